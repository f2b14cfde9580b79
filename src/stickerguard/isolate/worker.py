"""Decoder worker process: ``python -m stickerguard.isolate.worker --memory-bytes N --cpu-seconds S``.

Started by :class:`stickerguard.isolate.DecoderPool`, never by hand. It imports every
decoder once (warm), then confines itself before reading any untrusted byte:

* ``RLIMIT_AS`` = ``--memory-bytes`` (address space; allocations past it fail);
* ``RLIMIT_CPU`` soft limit re-armed before each file to (CPU used so far + ``--cpu-seconds``),
  so a runaway decoder gets SIGXCPU and dies;
* ``RLIMIT_CORE`` 0 (no core files), ``RLIMIT_FSIZE`` 16 MB (numba may still cache a kernel),
  ``RLIMIT_NOFILE`` small; Linux ``PR_SET_NO_NEW_PRIVS`` and ``PR_SET_PDEATHSIG`` (dies
  with its parent);
* stdin/stdout are the protocol pipes and are moved off fds 0/1 so that library output
  cannot corrupt replies; the parent starts it with ``close_fds=True``.

Each request (see :mod:`.protocol`) is answered with hashes (``op="hash"``) or raw RGBA
frames (``op="decode"``); a typed error comes back as ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import argparse
import ctypes

import json
import os
import resource
import sys

from .protocol import HEADER, encode, error_to_wire, limits_from_wire, signals_to_wire

_PR_SET_PDEATHSIG = 1
_PR_SET_NO_NEW_PRIVS = 38
#: Open files the worker may hold (pipes, /dev/null, libraries' own needs).
MAX_OPEN_FILES = 64
#: Largest file the worker may write (RLIMIT_FSIZE), in bytes: enough for numba's
#: compiled-kernel cache (a few KB per kernel), too small to fill a disk.
MAX_FILE_WRITE = 16 << 20


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


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


def arm_cpu_limit(cpu_seconds: float) -> None:
    """Set the soft ``RLIMIT_CPU`` to the CPU time used so far plus ``cpu_seconds``."""
    if cpu_seconds <= 0:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(used + cpu_seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _handle(request: dict, payload: bytes, memory_bytes: int) -> tuple[dict, bytes]:
    """Run one request; return (reply header, reply payload). Never raises for bad media."""
    from ..errors import DecodeError, LimitExceeded, StickerguardError
    from ..media import decode
    from ..signals import hash_bytes

    op = request.get("op")
    name = str(request.get("name", "<bytes>"))
    try:
        limits = limits_from_wire(request["limits"])
        if op == "hash":
            sig = hash_bytes(payload, name=name, limits=limits, variants=bool(request.get("variants")))
            return {"ok": True, "signals": signals_to_wire(sig)}, b""
        if op == "decode":
            media = decode(payload, name=name, limits=limits, sample_interval_ms=request.get("sample_interval_ms"))
            frames, blobs = [], []
            for f in media.frames:
                rgba = f.image.convert("RGBA")
                blobs.append(rgba.tobytes())
                frames.append({"index": f.index, "timestamp_ms": f.timestamp_ms, "duration_ms": f.duration_ms,
                               "width": rgba.width, "height": rgba.height})
            head = {"format": media.format, "width": media.width, "height": media.height, "animated": media.animated,
                    "frame_count": media.frame_count, "duration_ms": media.duration_ms, "frames": frames}
            return {"ok": True, "media": head}, b"".join(blobs)
        if os.environ.get("STICKERGUARD_ISOLATE_TEST_HOOKS") == "1":
            return _test_hook(op, payload), b""
        raise ValueError(f"unknown op {op!r}")
    except StickerguardError as exc:
        return {"ok": False, "error": error_to_wire(exc)}, b""
    except MemoryError:
        err = LimitExceeded(
            f"decoder ran out of memory (worker address-space limit {memory_bytes >> 20} MB)", field="worker_memory"
        )
        return {"ok": False, "error": error_to_wire(err), "fatal": True}, b""
    except RecursionError:
        return {"ok": False, "error": error_to_wire(DecodeError("decoder recursed too deeply")), "fatal": True}, b""
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a defect of this input
        err = DecodeError(f"could not decode: {type(exc).__name__}: {str(exc)[:500]}")
        return {"ok": False, "error": error_to_wire(err)}, b""


def _test_hook(op: object, payload: bytes) -> dict:
    """Misbehaviours for tests/test_isolate.py (only with STICKERGUARD_ISOLATE_TEST_HOOKS=1)."""
    if op == "abort":
        os.abort()
    if op == "sleep":
        import time

        time.sleep(float(payload or b"60"))
    if op == "spin":
        while True:
            pass
    if op == "alloc":
        blob = bytearray(int(payload))  # past RLIMIT_AS: MemoryError
        return {"ok": True, "allocated": len(blob)}
    if op == "garbage":
        return {"ok": True, "signals": {"md5": "not hex"}}
    if op == "fds":
        return {"ok": True, "fds": sorted(int(x) for x in os.listdir("/proc/self/fd"))}
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
    _write_all(fd_out, encode({"ok": True, "ready": os.getpid()}))
    while True:
        head = _read_exact(fd_in, HEADER.size)
        if head is None:
            return 0
        json_len, payload_len = HEADER.unpack(head)
        request = json.loads(_read_exact(fd_in, json_len) or b"{}")
        payload = _read_exact(fd_in, payload_len) if payload_len else b""
        arm_cpu_limit(args.cpu_seconds)
        reply, out = _handle(request, payload or b"", args.memory_bytes)
        del payload
        _write_all(fd_out, encode(reply, out))
        if reply.get("fatal"):
            return 3



if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    sys.exit(main())
