"""Decoder worker process: ``python -m stickerguard.isolate.worker --memory-bytes N --cpu-seconds S``.

Started by :class:`stickerguard.isolate.DecoderPool`, never by hand. It imports every
decoder once (warm), then confines itself before reading any untrusted byte:

* ``RLIMIT_AS`` = ``--memory-bytes`` (address space; allocations past it fail);
* ``RLIMIT_CPU`` soft limit kept between ``--cpu-seconds`` and ``--cpu-seconds`` + 1 s
  ahead of the CPU used so far, checked before each file (:class:`CpuLimit`), so a runaway
  decoder gets SIGXCPU and dies;
* ``RLIMIT_CORE`` 0 (no core files), ``RLIMIT_FSIZE`` 16 MB (numba may still cache a kernel),
  ``RLIMIT_NOFILE`` small; Linux ``PR_SET_NO_NEW_PRIVS`` and ``PR_SET_PDEATHSIG`` (dies
  with its parent);
* stdin/stdout are the protocol pipes and are moved off fds 0/1 so that library output
  cannot corrupt replies; the parent starts it with ``close_fds=True``.

Each request (see :mod:`.protocol`) is answered with binary hashes (``OP_HASH``) or raw
RGBA frames (``OP_DECODE``); a typed error comes back as a ``KIND_ERROR`` reply.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import sys
import time

from .protocol import (
    FATAL,
    FLAG_VARIANTS,
    KIND_SIGNALS,
    OP_DECODE,
    OP_HASH,
    OP_TEST,
    REQUEST,
    encode_reply,
    error_to_wire,
    json_reply,
    limits_from_wire,
    signals_to_wire,
)

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
#: Open files the worker may hold (pipes, /dev/null, libraries' own needs).
MAX_OPEN_FILES = 64
#: Largest file the worker may write (RLIMIT_FSIZE), in bytes: enough for numba's
#: compiled-kernel cache (a few KB per kernel), too small to fill a disk.
MAX_FILE_WRITE = 16 << 20


class _Reader:
    """Buffered exact reads from the request pipe (one ``read`` for a whole small request)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def take(self, n: int) -> bytes | None:
        """The next ``n`` bytes, or None at end of input."""
        while len(self.buf) < n:
            chunk = os.read(self.fd, max(n - len(self.buf), 1 << 16))
            if not chunk:
                return None
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the rlimits still apply
        pass


def confine(memory_bytes: int) -> None:
    """Apply the process-wide limits (see module docstring). ``memory_bytes`` 0 = no AS limit."""
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_WRITE, MAX_FILE_WRITE))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MAX_OPEN_FILES, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (cap, cap))
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    _prctl(_PR_SET_PDEATHSIG, 9)  # SIGKILL when the parent dies


class CpuLimit:
    """The per-file CPU budget as a soft ``RLIMIT_CPU`` (module docstring).

    :meth:`arm` before each file makes sure at least ``cpu_seconds`` (and at most
    ``cpu_seconds`` + 1 s) of CPU are left before SIGXCPU. The rlimit is only rewritten
    when less than the budget is left, so a stream of small files costs one
    ``clock_gettime`` each instead of three syscalls.
    """

    def __init__(self, cpu_seconds: float) -> None:
        self.budget = cpu_seconds
        self.hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        self.soft: int | None = None

    def arm(self) -> None:
        """Re-arm the soft limit if less than the budget is left (no-op for a budget <= 0)."""
        if self.budget <= 0:
            return
        used = time.process_time()
        if self.soft is not None and self.soft - used >= self.budget:
            return
        soft = int(used + self.budget) + 1
        if self.hard != resource.RLIM_INFINITY:
            soft = min(soft, self.hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.hard))
        self.soft = soft


_OPTIONS: dict[bytes, tuple] = {}


def _options(raw: bytes) -> tuple:
    """Parsed request options ``(Limits, dict)``, cached by their bytes (a scan sends the
    same ones for every file)."""
    hit = _OPTIONS.get(raw)
    if hit is None:
        opts = json.loads(raw)
        if len(_OPTIONS) >= 64:
            _OPTIONS.clear()
        hit = _OPTIONS[raw] = (limits_from_wire(opts["limits"]), opts)
    return hit


def _handle(op: int, flags: int, name: str, raw_opts: bytes, payload: bytes, memory_bytes: int) -> bytes:
    """Run one request; return the encoded reply. Never raises for bad media."""
    from ..errors import DecodeError, LimitExceeded, StickerguardError
    from ..media import decode
    from ..signals import hash_bytes

    try:
        limits, opts = _options(raw_opts)
        if op == OP_HASH:
            sig = hash_bytes(payload, name=name, limits=limits, variants=bool(flags & FLAG_VARIANTS))
            return encode_reply(KIND_SIGNALS, signals_to_wire(sig))
        if op == OP_DECODE:
            media = decode(payload, name=name, limits=limits, sample_interval_ms=opts.get("sample_interval_ms"))
            frames, blobs = [], []
            for f in media.frames:
                rgba = f.image.convert("RGBA")
                blobs.append(rgba.tobytes())
                frames.append({"index": f.index, "timestamp_ms": f.timestamp_ms, "duration_ms": f.duration_ms,
                               "width": rgba.width, "height": rgba.height})
            head = {"format": media.format, "width": media.width, "height": media.height, "animated": media.animated,
                    "frame_count": media.frame_count, "duration_ms": media.duration_ms, "frames": frames}
            return json_reply({"media": head}, b"".join(blobs))
        if op == OP_TEST and os.environ.get("STICKERGUARD_ISOLATE_TEST_HOOKS") == "1":
            return _test_hook(opts.get("test"), payload)
        raise ValueError(f"unknown op {op!r}")
    except StickerguardError as exc:
        return error_to_wire(exc)
    except MemoryError:
        err = LimitExceeded(
            f"decoder ran out of memory (worker address-space limit {memory_bytes >> 20} MB)", field="worker_memory"
        )
        return error_to_wire(err, fatal=True)
    except RecursionError:
        return error_to_wire(DecodeError("decoder recursed too deeply"), fatal=True)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a defect of this input
        return error_to_wire(DecodeError(f"could not decode: {type(exc).__name__}: {str(exc)[:500]}"))


def _test_hook(op: object, payload: bytes) -> bytes:
    """Misbehaviours for tests/test_isolate.py (only with STICKERGUARD_ISOLATE_TEST_HOOKS=1)."""
    if op == "abort":
        os.abort()
    if op == "sleep":
        time.sleep(float(payload or b"60"))
    if op == "spin":
        while True:
            pass
    if op == "alloc":
        blob = bytearray(int(payload))  # past RLIMIT_AS: MemoryError
        return json_reply({"allocated": len(blob)})
    if op == "garbage":  # a signals reply whose frame record claims more hashes than follow
        return encode_reply(KIND_SIGNALS, bytes(16 + 32) + b"webp".ljust(16, b"\0") + bytes(21) + b"\1\0" + bytes(30))
    if op == "fds":
        return json_reply({"fds": sorted(int(x) for x in os.listdir("/proc/self/fd"))})
    raise ValueError(f"unknown op {op!r}")


def _warm_up() -> None:
    """Hash small generated stickers (RGBA PNG, RGB and greyscale JPEG: the array shapes
    the PDQ kernels are compiled for) so that lazy imports, numba compilation (cached on
    disk after the first run) and first-call setup happen before the worker reports
    ready and before its limits apply, not on a real file."""
    import io

    from PIL import Image

    from ..signals import hash_bytes

    im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    im.paste((200, 30, 30, 255), (8, 8, 40, 56))
    for mode, fmt in (("RGBA", "PNG"), ("RGB", "JPEG"), ("L", "JPEG")):
        buf = io.BytesIO()
        im.convert(mode).save(buf, fmt)
        hash_bytes(buf.getvalue(), name="<warm-up>", variants=True)


def main(argv: list[str] | None = None) -> int:
    """Worker loop: announce readiness, then answer requests until stdin closes."""
    parser = argparse.ArgumentParser(prog="stickerguard.isolate.worker")
    parser.add_argument("--memory-bytes", type=int, default=0)
    parser.add_argument("--cpu-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    # Protocol fds off 0/1; fd 1 then points at stderr (/dev/null from the pool).
    fd_in, fd_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    sys.stdout = sys.stderr
    # Warm: import every decoder and Pillow plugin before the limits and the first file.
    from PIL import Image

    from .. import signals  # noqa: F401
    from ..media import decode  # noqa: F401

    Image.init()
    _warm_up()
    confine(args.memory_bytes)
    _write_all(fd_out, json_reply({"ready": os.getpid()}))
    cpu = CpuLimit(args.cpu_seconds)
    reader = _Reader(fd_in)
    while True:
        head = reader.take(REQUEST.size)
        if head is None:
            return 0
        op, flags, name_len, opts_len, payload_len = REQUEST.unpack(head)
        raw = reader.take(name_len + opts_len + payload_len)
        if raw is None:
            return 0
        name = raw[:name_len].decode("utf-8", "replace")
        raw_opts, payload = raw[name_len:name_len + opts_len], raw[name_len + opts_len:]
        del raw
        cpu.arm()
        reply = _handle(op, flags, name, raw_opts, payload, args.memory_bytes)
        del payload
        _write_all(fd_out, reply)
        if reply[1] & FATAL:
            return 3


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    sys.exit(main())
