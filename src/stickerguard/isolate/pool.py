"""A warm pool of sandboxed decoder worker processes (see :mod:`.worker`).

Each worker is a fresh ``python -m stickerguard.isolate.worker`` (exec, not fork: no
parent memory, threads or fds are inherited; ``close_fds=True``; stderr to /dev/null)
that imports the decoders once and then decodes file after file. A file that kills its
worker, or runs past the wall-clock / CPU limit, yields a typed error for that file
alone; the worker is killed and replaced at once (the replacement warms up while the
other workers go on) and the scan or request continues.

:mod:`.process` holds one worker's pipes and the idle queue, :mod:`.protocol` the wire
format, :mod:`.stream` the pipelined path scans use.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from ..errors import StickerguardError
from .process import Eof, IdleWorkers, Timeout, WorkerProcess
from .protocol import (
    FATAL,
    FLAG_VARIANTS,
    KIND_ERROR,
    KIND_JSON,
    KIND_SIGNALS,
    MAX_REPLY_BODY,
    OP_DECODE,
    OP_HASH,
    OP_TEST,
    WorkerCrashed,
    WorkerTimeout,
    encode_request,
    error_from_wire,
    options,
    signals_from_wire,
)

if TYPE_CHECKING:  # imported lazily, so that starting workers does not wait for the decoders
    from ..media import DecodedMedia, Limits
    from ..signals.types import MediaSignals


#: glibc settings of every worker: keep frame-sized buffers (< 32 MB) on the heap instead
#: of a fresh mmap per allocation, and do not return the heap top to the kernel after each
#: file; otherwise every file page-faults its buffers in again (measured: 2.6 -> 0.4 ms CPU
#: per 512x512 sticker in 2026-11; 2x the whole hash with the faster hashing of 2026-11-29).
#: RLIMIT_AS still bounds the total. Overridden by the same variables in the parent's env.
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


#: Files between two checks of a worker's resident memory (one /proc read each).
RSS_CHECK_EVERY = 64


@dataclass(frozen=True)
class SandboxLimits:
    """Per-worker process limits.

    Attributes:
        memory_bytes: ``RLIMIT_AS`` of each worker, in bytes (address space, not RSS;
            the imported decoders alone take ~300-400 MB of it). 0 = unlimited.
        cpu_seconds: CPU time one file may use, in seconds (``RLIMIT_CPU``, re-armed per file).
        timeout_s: wall-clock time one file may take, in seconds, before the worker is killed.
        startup_timeout_s: how long a new worker may take to import the decoders.
        max_jobs: files one worker decodes before it is replaced (bounds how long a
            worker lives; each start costs ~0.8 s of CPU, i.e. 0.08 ms per file at 10,000).
        max_rss_bytes: a worker whose resident memory is above this, checked every
            :data:`RSS_CHECK_EVERY` files, is replaced (bounds leaks; a worker settles at
            ~220 MB). 0 = no check.
    """

    memory_bytes: int = 1 << 30
    cpu_seconds: float = 8.0
    timeout_s: float = 10.0
    startup_timeout_s: float = 60.0
    max_jobs: int = 10_000
    max_rss_bytes: int = 512 << 20


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
        for key, value in WORKER_MALLOC_ENV.items():
            env.setdefault(key, value)
        if test_hooks:
            env["STICKERGUARD_ISOLATE_TEST_HOOKS"] = "1"
        self._env = env
        self._idle = IdleWorkers()
        self._lock = threading.Lock()
        self._all: set[WorkerProcess] = set()
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        self.replaced = 0
        self._tls = threading.local()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decoder-spawn")
        for _ in range(self.size):
            self._idle.put(self._spawn())

    # -- worker lifecycle -------------------------------------------------------------
    def _spawn(self) -> WorkerProcess:
        # Started from one long-lived thread: PR_SET_PDEATHSIG fires when the *thread*
        # that forked the worker exits, and callers' threads (web servers') come and go.
        args = ["--memory-bytes", str(self.sandbox.memory_bytes), "--cpu-seconds", str(self.sandbox.cpu_seconds)]
        worker = self._spawner.submit(WorkerProcess, args, self._env).result()
        with self._lock:
            self._all.add(worker)
        return worker

    def _retire(self, worker: WorkerProcess, *, replace: bool = True) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            closed = self._closed
        if replace and not closed:
            self.replaced += 1
            self._idle.put(self._spawn())

    def _await_ready(self, worker: WorkerProcess) -> None:
        kind, _, body, _ = worker.recv(worker.started + self.sandbox.startup_timeout_s, 4096, 0)
        if kind != KIND_JSON or not json.loads(body).get("ready"):
            raise Eof
        worker.ready = True

    def _worn_out(self, worker: WorkerProcess) -> bool:
        """True when ``worker`` (after a reply) has served ``max_jobs`` files or, checked
        every RSS_CHECK_EVERY files, holds more than ``max_rss_bytes`` resident."""
        if worker.jobs >= self.sandbox.max_jobs:
            return True
        return bool(self.sandbox.max_rss_bytes and worker.jobs % RSS_CHECK_EVERY == 0
                    and worker.rss_bytes() > self.sandbox.max_rss_bytes)

    def _failure(self, worker: WorkerProcess, exc: BaseException, phase: str, name: str) -> StickerguardError:
        """Replace a worker that timed out (:class:`Timeout`) or died (anything else) and
        return the typed error for the file ``name`` it was on (``phase`` "start": it never
        became ready)."""
        if isinstance(exc, Timeout):
            self._retire(worker)
            if phase == "start":
                return WorkerCrashed(f"decoder worker did not start within {self.sandbox.startup_timeout_s:g} s",
                                     path=name)
            return WorkerTimeout(f"decoding took longer than {self.sandbox.timeout_s:g} s (wall-clock limit); "
                                 "worker killed", path=name, field="timeout_s")
        how = worker.death() if worker.proc.poll() is not None or phase == "run" else "closed its pipe"
        self._retire(worker)
        if how == "killed by SIGXCPU":
            return WorkerTimeout(f"decoding used more than {self.sandbox.cpu_seconds:g} s of CPU (RLIMIT_CPU); "
                                 f"worker {how}", path=name, field="cpu_seconds")
        return WorkerCrashed(f"decoder process {how} (address-space limit {self.sandbox.memory_bytes >> 20} MB)",
                             path=name)

    # -- one request ------------------------------------------------------------------
    def _call(self, op: int, flags: int, name: str, opts: bytes, payload: bytes,
              max_payload: int) -> tuple[int, bytes, bytes]:
        """One request on an idle worker: ``(kind, body, payload)`` of its reply, or a
        WorkerCrashed / WorkerTimeout (the worker is then replaced)."""
        if self._closed:
            raise RuntimeError("DecoderPool is closed")
        worker = self._idle.take(block=True)
        phase = "start"
        self._tls.seconds = 0.0
        run_start = time.monotonic()
        try:
            if not worker.ready:
                self._await_ready(worker)
            phase = "run"
            run_start = time.monotonic()
            deadline = run_start + self.sandbox.timeout_s
            worker.send(encode_request(op, flags, name, opts, len(payload)), payload, deadline)
            kind, rflags, body, out = worker.recv(deadline, MAX_REPLY_BODY, max_payload)
        except (Timeout, Eof, ValueError, OSError) as exc:
            raise self._failure(worker, exc, phase, name) from None
        except BaseException:
            self._retire(worker)
            raise
        finally:
            if phase == "run":
                self._tls.seconds = time.monotonic() - run_start
        worker.jobs += 1
        if rflags & FATAL or self._worn_out(worker):
            self._retire(worker)
        else:
            self._idle.put(worker)
        if kind == KIND_ERROR:
            raise error_from_wire(body, name)
        return kind, body, out

    def hash(self, data: bytes, *, name: str = "<bytes>", limits: Limits | None = None,
             variants: bool = False) -> MediaSignals:
        """Decode and hash ``data`` in a worker (``signals.hash_bytes`` there).

        Returns checked MediaSignals; raises the worker's typed error with ``path=name``,
        or WorkerCrashed / WorkerTimeout.
        """
        kind, body, _ = self._call(OP_HASH, FLAG_VARIANTS if variants else 0, name, options(limits), data, 0)
        if kind != KIND_SIGNALS:
            raise WorkerCrashed("decoder worker sent an unexpected reply", path=name)
        return signals_from_wire(body, name)

    def decode(self, data: bytes, *, name: str = "<bytes>", limits: Limits | None = None,
               sample_interval_ms: float | None = None) -> DecodedMedia:
        """``media.decode`` in a worker; frames come back as raw RGBA and are rebuilt here.

        Same arguments, result and errors as :func:`stickerguard.media.decode`, plus
        WorkerCrashed / WorkerTimeout.
        """
        from PIL import Image

        from ..media import DEFAULT_LIMITS, DecodedMedia, Frame

        limits = limits or DEFAULT_LIMITS
        opts = json.dumps({**json.loads(options(limits)), "sample_interval_ms": sample_interval_ms}).encode()
        cap = limits.max_total_pixels * 4 + limits.max_pixels * 4
        _, body, blob = self._call(OP_DECODE, 0, name, opts, data, cap)
        try:
            head = json.loads(body)["media"]
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

    def hash_ordered(self, items: Iterable, job_of: Callable[[object], tuple[bytes, str] | None], *,
                     limits: Limits | None = None, variants: bool = False, workers: int = 0,
                     depth: int = 2) -> Iterator[tuple[object, tuple | None]]:
        """Hash many files with ``depth`` requests queued per worker, in the calling thread
        (what ``scan`` uses; see :mod:`.stream`).

        ``job_of(item)`` gives ``(bytes, name)`` to hash or None to pass the item through;
        yields ``(item, None)`` or ``(item, (signals | None, error | None, seconds))`` in
        input order, with the same typed errors and limits as :meth:`hash`. ``workers``:
        most workers used at once (0 = the pool's size).
        """
        from .stream import hash_ordered

        return hash_ordered(self, items, job_of, opts=options(limits), variants=variants,
                            workers=workers or self.size, depth=depth)

    def submit_hash(self, data: bytes, *, name: str, limits: Limits | None = None,
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
        kind, body, _ = self._call(OP_TEST, 0, name, options(None, op), payload, 0)
        if kind == KIND_SIGNALS:
            return {"signals": signals_from_wire(body, name)}
        return json.loads(body)

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


def prestart(min_size: int = 0) -> None:
    """Start the process-wide pool's workers now, unless ``STICKERGUARD_ISOLATE=0``.

    They import and warm up the decoders (~1-2 s) in the background while the caller
    loads its own modules; call it first thing in a command that will hash. Importing
    :mod:`stickerguard.isolate` itself loads no decoder, so this costs ~10 ms per worker.
    """
    if os.environ.get("STICKERGUARD_ISOLATE", "1") != "0":
        get_pool(min_size)


def shutdown_default_pool() -> None:
    """Close the process-wide pool (next :func:`get_pool` starts a new one)."""
    global _default
    with _default_lock:
        pool, _default = _default, None
    if pool is not None:
        pool.close()


atexit.register(shutdown_default_pool)
