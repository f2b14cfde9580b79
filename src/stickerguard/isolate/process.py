"""One sandboxed decoder process seen from the parent (start, framed I/O with deadlines,
death) and the pool's queue of idle ones.

The worker is a fresh ``python -m stickerguard.isolate.worker`` (exec, not fork: no parent
memory, threads or fds are inherited; ``close_fds=True``; stderr to /dev/null). Its stdin
and stdout are the request and reply pipes (:mod:`.protocol`). Every read and write here
has a deadline; the pool turns :class:`Timeout` / :class:`Eof` into typed errors.
"""

from __future__ import annotations

import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque

from .protocol import REPLY


class Timeout(Exception):
    """The deadline passed before the worker answered (or accepted the request)."""


class Eof(Exception):
    """The worker closed its pipe (it died) or sent a reply too large to be valid."""


class WorkerProcess:
    """One worker process and its pipes (parent side); used by one thread at a time.

    Args:
        cmd_args: extra command-line arguments of the worker (its limits).
        env: the worker's whole environment.
    """

    def __init__(self, cmd_args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stickerguard.isolate.worker", *cmd_args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True, env=env, start_new_session=True,
        )
        self.fd_in = self.proc.stdout.fileno()
        self.fd_out = self.proc.stdin.fileno()
        os.set_blocking(self.fd_out, False)
        os.set_blocking(self.fd_in, False)
        self._poll_in = select.poll()
        self._poll_in.register(self.fd_in, select.POLLIN)
        self._poll_out = select.poll()
        self._poll_out.register(self.fd_out, select.POLLOUT)
        self._buf = bytearray()
        self.ready = False
        self.jobs = 0
        self.started = time.monotonic()

    @staticmethod
    def _wait(poller: select.poll, deadline: float) -> None:
        wait = deadline - time.monotonic()
        if wait <= 0 or not poller.poll(math.ceil(wait * 1000)):
            raise Timeout

    def send(self, head: bytes, payload: bytes, deadline: float) -> None:
        """Write one request (``head`` then ``payload``, without joining them) before ``deadline``.

        Raises Timeout, or Eof if the worker is gone.
        """
        parts, total, done = [head, payload], len(head) + len(payload), 0
        while True:
            try:
                done += os.writev(self.fd_out, parts)
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise Eof from exc
            if done == total:
                return
            parts = [memoryview(head)[done:], payload] if done < len(head) else [memoryview(payload)[done - len(head):]]
            self._wait(self._poll_out, deadline)

    def _fill(self, n: int, deadline: float) -> None:
        """Read until the buffer holds at least ``n`` bytes (wait first: a reply takes time)."""
        while len(self._buf) < n:
            self._wait(self._poll_in, deadline)
            try:
                chunk = os.read(self.fd_in, max(n - len(self._buf), 1 << 16))
            except BlockingIOError:
                continue
            if not chunk:
                raise Eof
            self._buf += chunk

    def recv(self, deadline: float, max_body: int, max_payload: int) -> tuple[int, int, bytes, bytes]:
        """Read one reply before ``deadline``: ``(kind, flags, body, payload)``.

        Raises Timeout; Eof when the worker closed its pipe or announced a body or payload
        larger than ``max_body`` / ``max_payload`` bytes.
        """
        if not self._buf:  # usual case: the whole reply arrives in one read, used as is
            self._wait(self._poll_in, deadline)
            try:
                chunk = os.read(self.fd_in, 1 << 16)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                raise Eof
            if chunk and len(chunk) >= REPLY.size:
                kind, flags, body_len, payload_len = REPLY.unpack_from(chunk)
                if body_len > max_body or payload_len > max_payload:
                    raise Eof
                if len(chunk) == REPLY.size + body_len + payload_len:
                    return kind, flags, chunk[REPLY.size:REPLY.size + body_len], chunk[REPLY.size + body_len:]
            if chunk:
                self._buf += chunk
        self._fill(REPLY.size, deadline)
        kind, flags, body_len, payload_len = REPLY.unpack_from(self._buf)
        if body_len > max_body or payload_len > max_payload:
            raise Eof
        end = REPLY.size + body_len + payload_len
        self._fill(end, deadline)
        body = bytes(self._buf[REPLY.size:REPLY.size + body_len])
        payload = bytes(self._buf[REPLY.size + body_len:end]) if payload_len else b""
        del self._buf[:end]
        return kind, flags, body, payload

    def buffered(self) -> bool:
        """True when a whole reply is already in the read buffer (``poll`` would not say so)."""
        if len(self._buf) < REPLY.size:
            return False
        _, _, body_len, payload_len = REPLY.unpack_from(self._buf)
        return len(self._buf) >= REPLY.size + body_len + payload_len

    def readable(self) -> bool:
        """True when the reply pipe has data or was closed (a read would not block)."""
        return bool(self._poll_in.poll(0))

    def rss_bytes(self) -> int:
        """Resident memory of the worker in bytes (0 if it is gone)."""
        try:
            with open(f"/proc/{self.proc.pid}/statm", "rb") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        """SIGKILL the worker and reap it (never raises)."""
        try:
            self.proc.kill()
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        """Close the pipes and reap the process (after it exits)."""
        for fh in (self.proc.stdin, self.proc.stdout):
            try:
                fh.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def death(self) -> str:
        """How the worker died, for messages: ``"killed by SIGSEGV"`` / ``"exited with status 3"``."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"


class IdleWorkers:
    """Idle workers, handed out first come, first served (a thread that waits is served
    before a later caller, even one that just gave a worker back: that is how a scan's
    stream lets the HTTP API in). :attr:`waiting` counts the threads blocked in :meth:`take`."""

    def __init__(self) -> None:
        self._workers: list[WorkerProcess] = []
        self._queue: deque[object] = deque()
        self._cond = threading.Condition(threading.Lock())

    @property
    def waiting(self) -> int:
        """Threads blocked in :meth:`take`."""
        return len(self._queue)

    def put(self, worker: WorkerProcess) -> None:
        """Make ``worker`` available (wakes the longest-waiting taker)."""
        with self._cond:
            self._workers.append(worker)
            if self._queue:
                self._cond.notify_all()

    def take(self, *, block: bool) -> WorkerProcess | None:
        """An idle worker; None when none is idle and ``block`` is False."""
        with self._cond:
            if self._workers and not self._queue:
                return self._workers.pop()
            if not block:
                return None
            ticket = object()
            self._queue.append(ticket)
            try:
                while not (self._workers and self._queue[0] is ticket):
                    self._cond.wait()
                return self._workers.pop()
            finally:
                self._queue.remove(ticket)
                if self._queue and self._workers:
                    self._cond.notify_all()
