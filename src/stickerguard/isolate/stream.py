"""Pipelined hashing for scans: several files in flight per worker, driven by the caller's thread.

:meth:`DecoderPool.submit_hash` hands every file to a pool thread, which costs two thread
switches per file in the parent (a third of its CPU per sticker) and leaves the worker
idle between a reply and the next request. :func:`hash_ordered` instead keeps up to
``depth`` requests queued in each worker's pipe and reads the replies itself, in the
thread that consumes the results, with one ``poll`` over all its workers.

Limits are those of :meth:`DecoderPool.hash`: a worker answers its requests in order, so
the oldest request in its pipe is the file being decoded; its wall-clock deadline runs
from when the previous reply was read (never earlier than the decode really started).
When that file crashes or stalls the worker, that file alone gets the typed error; the
worker is replaced and the requests queued behind it are sent again to a healthy worker.
Workers are taken from the pool's idle queue and given back as soon as another thread
waits for one, so a long scan does not starve the HTTP API sharing the pool.
"""

from __future__ import annotations

import select
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from .process import Eof, Timeout, WorkerProcess
from .protocol import (
    FATAL,
    FLAG_VARIANTS,
    KIND_ERROR,
    KIND_SIGNALS,
    MAX_REPLY_BODY,
    OP_HASH,
    WorkerCrashed,
    encode_request,
    error_from_wire,
    signals_from_wire,
)


class _Job:
    __slots__ = ("data", "name", "result")

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name, self.result = data, name, None


class _Stream:
    """State of one :func:`hash_ordered` run (used by one thread)."""

    def __init__(self, pool, opts: bytes, flags: int, workers: int, depth: int) -> None:
        self.pool, self.opts, self.flags, self.depth = pool, opts, flags, depth
        self.max_workers = max(1, min(workers, pool.size))
        self.mine: list[WorkerProcess] = []
        self.inflight: dict[WorkerProcess, deque[_Job]] = {}
        self.head_start: dict[WorkerProcess, float] = {}
        self.backlog: deque[_Job] = deque()
        self.owed: WorkerProcess | None = None

    # -- workers ----------------------------------------------------------------------
    def _adopt(self, worker: WorkerProcess) -> None:
        self.mine.append(worker)
        self.inflight[worker] = deque()

    def _drop(self, worker: WorkerProcess) -> deque[_Job]:
        if worker is self.owed:
            self.owed = None
        self.mine.remove(worker)
        self.head_start.pop(worker, None)
        return self.inflight.pop(worker)

    def _free_slot(self) -> WorkerProcess | None:
        best = None
        for w in self.mine:
            n = len(self.inflight[w])
            if w.ready and n < self.depth and w.jobs + n < self.pool.sandbox.max_jobs:
                if best is None or n < len(self.inflight[best]):
                    best = w
        return best

    def dispatch(self) -> None:
        """Send queued jobs to workers with a free slot, taking idle workers as needed.

        While another thread waits for a worker, no new job is queued (so some worker's
        queue drains) and every drained worker is given back; a worker this stream had to
        wait for itself (``owed``) still gets one job, so both sides make progress.
        """
        if self.pool._idle.waiting:
            for w in [w for w in self.mine if not self.inflight[w] and w is not self.owed]:
                self._drop(w)
                self.pool._idle.put(w)
        while self.backlog:
            if self.owed is not None and self.owed.ready and self.owed in self.inflight:
                worker, self.owed = self.owed, None
            else:
                worker = None if self.pool._idle.waiting else self._free_slot()
            if worker is None:
                if not self.mine:
                    if self.pool._closed:
                        raise RuntimeError("DecoderPool is closed")
                    self.owed = self.pool._idle.take(block=True)
                    self._adopt(self.owed)
                    continue
                if not self.pool._idle.waiting and len(self.mine) < self.max_workers:
                    taken = self.pool._idle.take(block=False)
                    if taken is not None:
                        self._adopt(taken)
                        continue
                return
            job = self.backlog.popleft()
            queue = self.inflight[worker]
            queue.append(job)
            now = time.monotonic()
            if len(queue) == 1:
                self.head_start[worker] = now
            try:
                head = encode_request(OP_HASH, self.flags, job.name, self.opts, len(job.data))
                worker.send(head, job.data, self.head_start[worker] + self.pool.sandbox.timeout_s)
            except Eof:
                if len(queue) > 1:
                    self._fail(worker, Eof())
                else:  # it died idle (between files): not this file's doing, send it elsewhere
                    self.backlog.extendleft(reversed(self._drop(worker)))
                    self.pool._retire(worker)
            except (Timeout, OSError) as exc:
                self._fail(worker, exc)

    # -- replies ----------------------------------------------------------------------
    def _fail(self, worker: WorkerProcess, exc: BaseException) -> None:
        """The worker died or its oldest file ran out of time: that file gets the typed
        error, the worker is replaced, the files queued behind it go to other workers."""
        seconds = time.monotonic() - self.head_start.get(worker, time.monotonic())
        jobs = self._drop(worker)
        if not worker.ready:  # never started: the next file waiting gets the error (as in hash())
            waiting = self.backlog.popleft() if self.backlog else None
            err = self.pool._failure(worker, exc, "start", waiting.name if waiting else "<warm-up>")
            if waiting is not None:
                waiting.result = (None, err, 0.0)
            return
        head = jobs.popleft() if jobs else None
        err = self.pool._failure(worker, exc, "run", head.name if head else "<idle>")
        if head is not None:
            head.result = (None, err, seconds)
        self.backlog.extendleft(reversed(jobs))

    def _reply(self, worker: WorkerProcess, now: float) -> None:
        kind, flags, body, _ = worker.recv(now + self.pool.sandbox.timeout_s, MAX_REPLY_BODY, 0)
        queue = self.inflight[worker]
        job = queue.popleft()
        seconds = now - self.head_start[worker]
        self.head_start[worker] = now
        worker.jobs += 1
        if kind == KIND_SIGNALS:
            try:
                job.result = (signals_from_wire(body, job.name), None, seconds)
            except WorkerCrashed as err:
                job.result = (None, err, seconds)
        elif kind == KIND_ERROR:
            job.result = (None, error_from_wire(body, job.name), seconds)
        else:
            job.result = (None, WorkerCrashed("decoder worker sent an unexpected reply", path=job.name), seconds)
        if flags & FATAL or self.pool._worn_out(worker):
            self.backlog.extendleft(reversed(self._drop(worker)))
            self.pool._retire(worker)

    def wait(self) -> None:
        """Block until a reply, a worker's readiness, a crash or a deadline; handle it."""
        poller, by_fd, deadline = select.poll(), {}, None
        now = time.monotonic()
        for w in self.mine:
            if w.ready and not self.inflight[w]:
                continue
            due = (self.head_start[w] + self.pool.sandbox.timeout_s if w.ready
                   else w.started + self.pool.sandbox.startup_timeout_s)
            deadline = due if deadline is None else min(deadline, due)
            if w.buffered():
                poller = None  # a whole reply is already here: no need to wait
                break
            poller.register(w.fd_in, select.POLLIN)
            by_fd[w.fd_in] = w
        if poller is not None and by_fd:
            poller.poll(max(0, int((deadline - now) * 1000) + 1))
        now = time.monotonic()
        for w in list(self.mine):
            if w.ready and not self.inflight[w]:
                continue
            try:
                if not w.ready:
                    if w.readable() or now >= w.started + self.pool.sandbox.startup_timeout_s:
                        self.pool._await_ready(w)
                    continue
                while self.inflight.get(w) and (w.buffered() or w.readable()):
                    self._reply(w, now)
                if self.inflight.get(w) and now >= self.head_start[w] + self.pool.sandbox.timeout_s:
                    raise Timeout
            except (Timeout, Eof, ValueError, OSError) as exc:
                self._fail(w, exc)

    def release(self) -> None:
        """Give the workers back; one with requests still queued is replaced (its replies
        would be read by nobody)."""
        for w in list(self.mine):
            pending = self._drop(w)
            if pending:
                self.pool._retire(w)
            else:
                self.pool._idle.put(w)


def hash_ordered(pool, items: Iterable, job_of: Callable[[object], tuple[bytes, str] | None], *,
                 opts: bytes, variants: bool, workers: int, depth: int = 2) -> Iterator[tuple[object, tuple | None]]:
    """Hash the files of ``items`` in the pool's workers, ``depth`` requests per worker.

    Args:
        pool: the :class:`DecoderPool`.
        items: any iterable; ``job_of(item)`` gives ``(bytes, name)`` for an item to hash
            and None for one to pass through.
        opts: request options (``protocol.options(limits)``).
        variants: ``hash_bytes(variants=...)``.
        workers: most workers used at once (at most the pool's size).
        depth: requests queued per worker.

    Yields:
        ``(item, result)`` in input order; ``result`` is None for a passed-through item,
        else ``(MediaSignals, None, seconds)`` or ``(None, StickerguardError, seconds)``
        like :meth:`DecoderPool.submit_hash`'s Future.
    """
    stream = _Stream(pool, opts, FLAG_VARIANTS if variants else 0, workers, depth)
    window = (depth + 1) * stream.max_workers
    order: deque[tuple[object, _Job | None]] = deque()
    source = iter(items)
    exhausted = False
    try:
        while True:
            while not exhausted and len(order) < window:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                spec = job_of(item)
                job = None if spec is None else _Job(*spec)
                if job is not None:
                    stream.backlog.append(job)
                order.append((item, job))
            stream.dispatch()
            if order and (order[0][1] is None or order[0][1].result is not None):
                item, job = order.popleft()
                yield item, None if job is None else job.result
                continue
            if not order:
                return
            stream.wait()
    finally:
        stream.release()
