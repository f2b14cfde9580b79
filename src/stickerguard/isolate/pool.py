"""A warm pool of sandboxed decoder worker processes (see :mod:`.worker`).

Each worker is a fresh ``python -m stickerguard.isolate.worker`` (exec, not fork: no
parent memory, threads or fds are inherited; ``close_fds=True``; stderr to /dev/null)
that imports the decoders once and then decodes file after file. A file that kills its
worker, or runs past the wall-clock / CPU limit, yields a typed error for that file
alone; the worker is killed and replaced at once (the replacement warms up while the
other workers go on) and the scan or request continues.
"""

from __future__ import annotations

import atexit
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from ..errors import StickerguardError
from ..media import DEFAULT_LIMITS, DecodedMedia, Frame, Limits
from ..signals.types import MediaSignals
from .protocol import (
    HEADER,
    MAX_REPLY_JSON,
    WorkerCrashed,
    WorkerTimeout,
    encode,
    error_from_wire,
    limits_to_wire,
    signals_from_wire,
)

import json


@dataclass(frozen=True)
class SandboxLimits:
    """Per-worker process limits.

    Attributes:
        memory_bytes: ``RLIMIT_AS`` of each worker, in bytes (address space, not RSS;
            the imported decoders alone take ~300-400 MB of it). 0 = unlimited.
        cpu_seconds: CPU time one file may use, in seconds (``RLIMIT_CPU``, re-armed per file).
        timeout_s: wall-clock time one file may take, in seconds, before the worker is killed.
        startup_timeout_s: how long a new worker may take to import the decoders.
        max_jobs: files one worker decodes before it is replaced (bounds leaks).
    """

    memory_bytes: int = 1 << 30
    cpu_seconds: float = 8.0
    timeout_s: float = 10.0
    startup_timeout_s: float = 60.0
    max_jobs: int = 1000


class _Worker:
    """One worker process and its pipes (parent side)."""

    def __init__(self, sandbox: SandboxLimits, env: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "stickerguard.isolate.worker",
               "--memory-bytes", str(sandbox.memory_bytes), "--cpu-seconds", str(sandbox.cpu_seconds)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True, env=env, start_new_session=True,
        )
        self.fd_in = self.proc.stdout.fileno()
        self.fd_out = self.proc.stdin.fileno()
        os.set_blocking(self.fd_out, False)
        self.ready = False
        self.jobs = 0
        self.started = time.monotonic()

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


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks, left = [], n
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise _Timeout
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise _Eof
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([], [fd], [], wait)[1]:
            raise _Timeout
        try:
            view = view[os.write(fd, view):]
        except BrokenPipeError as exc:
            raise _Eof from exc
        except BlockingIOError:
            continue


class DecoderPool:
    """Warm pool of sandboxed decoder processes; thread-safe.

    Args:
        size: number of worker processes (default: one per CPU).
        sandbox: per-worker limits (:class:`SandboxLimits`).
        test_hooks: let workers answer the misbehaviour ops used by the tests.

    Use :meth:`hash` / :meth:`decode` (blocking, raise typed errors) or
    :meth:`submit_hash` (a Future of ``(MediaSignals | None, StickerguardError | None)``).
    Errors of a worker that died or timed out: :class:`WorkerCrashed` (code
    ``decoder_crashed``) and :class:`WorkerTimeout` (code ``decode_timeout``).
    """

    def __init__(self, size: int | None = None, sandbox: SandboxLimits | None = None, *,
                 test_hooks: bool = False) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self.sandbox = sandbox or SandboxLimits()
        env = {k: v for k, v in os.environ.items() if k not in ("STICKERGUARD_ISOLATE_TEST_HOOKS",)}
        # One thread per worker: parallelism comes from the pool, not from BLAS/OpenMP.
        env.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                    "PYTHONDONTWRITEBYTECODE": "1"})
        # glibc: keep frame-sized buffers (< 32 MB) on the heap instead of a fresh mmap per
        # allocation; otherwise every file page-faults its buffers in again (measured: 2.6 ->
        # 0.4 ms CPU of overhead per 512x512 sticker). RLIMIT_AS still bounds the total.
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(32 << 20))
        env.setdefault("MALLOC_TRIM_THRESHOLD_", str(64 << 20))
        if test_hooks:
            env["STICKERGUARD_ISOLATE_TEST_HOOKS"] = "1"
        self._env = env
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        self.replaced = 0
        self._tls = threading.local()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decoder-spawn")
        for _ in range(self.size):
            self._idle.put(self._spawn())

    # -- worker lifecycle -------------------------------------------------------------
    def _spawn(self) -> _Worker:
        # Started from one long-lived thread: PR_SET_PDEATHSIG fires when the *thread*
        # that forked the worker exits, and callers' threads (web servers') come and go.
        worker = self._spawner.submit(_Worker, self.sandbox, self._env).result()
        with self._lock:
            self._all.add(worker)
        return worker

    def _retire(self, worker: _Worker, *, replace: bool = True) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            closed = self._closed
        if replace and not closed:
            self.replaced += 1
            self._idle.put(self._spawn())

    def _await_ready(self, worker: _Worker) -> None:
        deadline = worker.started + self.sandbox.startup_timeout_s
        json_len, payload_len = HEADER.unpack(_read_exact(worker.fd_in, HEADER.size, deadline))
        hello = json.loads(_read_exact(worker.fd_in, json_len, deadline))
        if not hello.get("ready") or payload_len:
            raise _Eof
        worker.ready = True

    # -- one request ------------------------------------------------------------------
    def _call(self, header: dict, payload: bytes, name: str, max_payload: int) -> tuple[dict, bytes]:
        if self._closed:
            raise RuntimeError("DecoderPool is closed")
        worker = self._idle.get()
        phase = "start"
        self._tls.seconds = 0.0
        run_start = time.monotonic()
        try:
            if not worker.ready:
                self._await_ready(worker)
            phase = "run"
            run_start = time.monotonic()
            deadline = run_start + self.sandbox.timeout_s
            _write_all(worker.fd_out, encode(header, payload), deadline)
            json_len, payload_len = HEADER.unpack(_read_exact(worker.fd_in, HEADER.size, deadline))
            if json_len > MAX_REPLY_JSON or payload_len > max_payload:
                raise _Eof
            reply = json.loads(_read_exact(worker.fd_in, json_len, deadline))
            out = _read_exact(worker.fd_in, payload_len, deadline) if payload_len else b""
            if not isinstance(reply, dict):
                raise _Eof
        except _Timeout:
            self._retire(worker)
            if phase == "start":
                raise WorkerCrashed(f"decoder worker did not start within {self.sandbox.startup_timeout_s:g} s",
                                    path=name) from None
            raise WorkerTimeout(
                f"decoding took longer than {self.sandbox.timeout_s:g} s (wall-clock limit); worker killed",
                path=name, field="timeout_s",
            ) from None
        except (_Eof, ValueError, OSError):
            how = worker.death() if worker.proc.poll() is not None or phase == "run" else "closed its pipe"
            self._retire(worker)
            if how == "killed by SIGXCPU":
                raise WorkerTimeout(
                    f"decoding used more than {self.sandbox.cpu_seconds:g} s of CPU (RLIMIT_CPU); worker {how}",
                    path=name, field="cpu_seconds",
                ) from None
            raise WorkerCrashed(
                f"decoder process {how} (address-space limit {self.sandbox.memory_bytes >> 20} MB)", path=name
            ) from None
        except BaseException:
            self._retire(worker)
            raise
        finally:
            if phase == "run":
                self._tls.seconds = time.monotonic() - run_start
        worker.jobs += 1
        if reply.get("fatal") or worker.jobs >= self.sandbox.max_jobs:
            self._retire(worker)
        else:
            self._idle.put(worker)
        return reply, out

    def hash(self, data: bytes, *, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
             variants: bool = False) -> MediaSignals:
        """Decode and hash ``data`` in a worker (``signals.hash_bytes`` there).

        Returns validated MediaSignals; raises the worker's typed error with ``path=name``,
        or WorkerCrashed / WorkerTimeout.
        """
        req = {"op": "hash", "name": name, "limits": limits_to_wire(limits), "variants": bool(variants)}
        reply, _ = self._call(req, data, name, 0)
        if not reply.get("ok"):
            raise error_from_wire(reply.get("error"), name)
        return signals_from_wire(reply.get("signals"), name)

    def decode(self, data: bytes, *, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS,
               sample_interval_ms: float | None = None) -> DecodedMedia:
        """``media.decode`` in a worker; frames come back as raw RGBA and are rebuilt here.

        Same arguments, result and errors as :func:`stickerguard.media.decode`, plus
        WorkerCrashed / WorkerTimeout.
        """
        req = {"op": "decode", "name": name, "limits": limits_to_wire(limits), "sample_interval_ms": sample_interval_ms}
        cap = limits.max_total_pixels * 4 + limits.max_pixels * 4
        reply, blob = self._call(req, data, name, cap)
        if not reply.get("ok"):
            raise error_from_wire(reply.get("error"), name)
        try:
            head = reply["media"]
            frames, pos = [], 0
            for f in head["frames"]:
                w, h = int(f["width"]), int(f["height"])
                if w <= 0 or h <= 0 or w * h > limits.max_pixels or pos + w * h * 4 > len(blob):
                    raise ValueError("frame size does not fit the payload")
                image = Image.frombytes("RGBA", (w, h), blob[pos:pos + w * h * 4])
                pos += w * h * 4
                frames.append(Frame(image, int(f["index"]), float(f["timestamp_ms"]), float(f["duration_ms"])))
            return DecodedMedia(format=str(head["format"]), width=int(head["width"]), height=int(head["height"]),
                                animated=bool(head["animated"]), frames=frames,
                                frame_count=int(head["frame_count"]), duration_ms=float(head["duration_ms"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkerCrashed(f"decoder worker sent a malformed frame reply: {exc}", path=name) from exc

    def submit_hash(self, data: bytes, *, name: str, limits: Limits = DEFAULT_LIMITS,
                    variants: bool = False) -> Future:
        """Run :meth:`hash` on a pool thread.

        The Future gives ``(signals, None, seconds)`` or ``(None, error, seconds)``, where
        ``seconds`` is the wall-clock time the worker spent on this file (waiting for a
        free or warming-up worker not included).
        """
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="decoder")
            executor = self._executor
        return executor.submit(self._hash_result, data, name, limits, variants)

    def _hash_result(self, data, name, limits, variants):
        try:
            return self.hash(data, name=name, limits=limits, variants=variants), None, self._tls.seconds
        except StickerguardError as exc:
            return None, exc, getattr(self._tls, "seconds", 0.0)

    def request(self, op: str, payload: bytes = b"", *, name: str = "<test>") -> dict:
        """Send a raw op (tests only; workers need ``test_hooks=True`` for the misbehaviours)."""
        reply, _ = self._call({"op": op, "name": name, "limits": limits_to_wire(DEFAULT_LIMITS)}, payload, name, 0)
        if not reply.get("ok"):
            raise error_from_wire(reply.get("error"), name)
        return reply

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and monitoring)."""
        with self._lock:
            return sorted(w.proc.pid for w in self._all)

    def close(self) -> None:
        """Stop every worker (close its stdin, then kill it after 2 s) and reap it."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        for w in workers:
            try:
                w.proc.stdin.close()
            except OSError:
                pass
        for w in workers:
            try:
                w.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            w.kill()
        self._spawner.shutdown(wait=True)

    def __enter__(self) -> "DecoderPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_default: DecoderPool | None = None
_default_lock = threading.Lock()


def get_pool(min_size: int = 0) -> DecoderPool:
    """The process-wide warm pool (created on first use, one worker per CPU or
    ``min_size`` if larger; replaced by a bigger one when a caller needs more workers).
    Closed at interpreter exit."""
    global _default
    with _default_lock:
        if _default is None or _default._closed or _default.size < min_size:
            old = _default
            _default = DecoderPool(max(min_size, os.cpu_count() or 1))
            if old is not None:
                old.close()
        return _default


def shutdown_default_pool() -> None:
    """Close the process-wide pool (next :func:`get_pool` starts a new one)."""
    global _default
    with _default_lock:
        pool, _default = _default, None
    if pool is not None:
        pool.close()


atexit.register(shutdown_default_pool)
