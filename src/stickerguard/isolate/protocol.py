"""Wire format between the parent and a decoder worker: length-prefixed JSON + raw bytes.

Why not pickle: the worker parses hostile media, so it must be treated as possibly
compromised. Unpickling its replies would hand it code execution in the parent. Replies
are JSON (validated shape by shape here) plus, for raw frames, plain RGBA bytes.

One message is ``struct ">II"`` (JSON length, payload length), the UTF-8 JSON header,
then the payload bytes. Requests carry the file bytes as payload; replies carry RGBA
frames (``op="decode"``) or nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import struct

from ..errors import DecodeError, LimitExceeded, PackError, StickerguardError, UnsupportedMedia
from ..media.limits import Limits
from ..signals.types import FrameSignals, MediaSignals

HEADER = struct.Struct(">II")
#: Largest JSON header accepted from a worker, in bytes (64 frames of hashes is ~60 KB).
MAX_REPLY_JSON = 8 << 20
#: Longest error message kept from a worker, in characters.
MAX_MESSAGE_CHARS = 2000

_FRAME_FIELDS = dataclasses.fields(FrameSignals)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX32 = re.compile(r"[0-9a-f]{32}")


class WorkerCrashed(DecodeError):
    """The decoder process died on this file (signal, abort, address-space limit, broken reply)."""

    code = "decoder_crashed"


class WorkerTimeout(LimitExceeded):
    """The decoder process ran past its wall-clock or CPU-time limit on this file and was killed."""

    code = "decode_timeout"


ERROR_CLASSES: dict[str, type[StickerguardError]] = {
    cls.code: cls
    for cls in (UnsupportedMedia, DecodeError, LimitExceeded, PackError, WorkerCrashed, WorkerTimeout)
}


def encode(header: dict, payload: bytes | bytearray | memoryview = b"") -> bytes:
    """Frame one message: ``>II`` lengths, JSON header, payload."""
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(len(raw), len(payload)) + raw + bytes(payload)


@functools.lru_cache(maxsize=32)
def limits_to_wire(limits: Limits) -> dict:
    """``Limits`` as a JSON-ready dict (cached per Limits value; do not mutate the result)."""
    return dataclasses.asdict(limits)


def limits_from_wire(raw: dict) -> Limits:
    """Inverse of :func:`limits_to_wire`; unknown keys raise TypeError (caller bug)."""
    values = dict(raw)
    values["max_format_bytes"] = tuple((str(k), int(v)) for k, v in values.get("max_format_bytes", ()))
    return Limits(**values)


def error_to_wire(exc: StickerguardError) -> dict:
    """``{"code", "message", "field"}`` of a typed error (the path is the parent's to set)."""
    return {"code": exc.code, "message": exc.message, "field": exc.field}


def error_from_wire(raw: object, name: str) -> StickerguardError:
    """Rebuild a worker's typed error with ``path=name`` (the name the parent gave).

    An unknown code or a malformed dict becomes :class:`WorkerCrashed`.
    """
    if not isinstance(raw, dict) or raw.get("code") not in ERROR_CLASSES or not isinstance(raw.get("message"), str):
        return WorkerCrashed("decoder worker sent a malformed error reply", path=name)
    field = raw.get("field")
    cls = ERROR_CLASSES[raw["code"]]
    return cls(raw["message"][:MAX_MESSAGE_CHARS], path=name, field=field if isinstance(field, str) else None)


def signals_to_wire(sig: MediaSignals) -> dict:
    """MediaSignals as plain JSON types (a shallow field copy; ``dataclasses.asdict``'s
    deep copy cost ~70 us per file)."""
    out = {f.name: getattr(sig, f.name) for f in dataclasses.fields(MediaSignals)}
    out["frames"] = [{f.name: getattr(fr, f.name) for f in _FRAME_FIELDS} for fr in sig.frames]
    return out


def _hex(value: object, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} is not lowercase hex of the right length")
    return value


def _hexes(values: object, what: str) -> tuple[str, ...]:
    if not isinstance(values, list) or len(values) > 16:
        raise ValueError(f"{what} is not a short list")
    return tuple(_hex(v, _HEX64, what) for v in values)


def _num(value: object, what: str, kind: type = int) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"{what} is not a number")
    return value


def _frame_from_wire(raw: dict) -> FrameSignals:
    canonical = raw.get("canonical_pdq")
    return FrameSignals(
        index=int(_num(raw.get("index"), "index")),
        timestamp_ms=float(_num(raw.get("timestamp_ms"), "timestamp_ms", float)),
        pdq=_hex(raw.get("pdq"), _HEX64, "pdq"),
        quality=int(_num(raw.get("quality"), "quality")),
        canonical_pdq=None if canonical is None else _hex(canonical, _HEX64, "canonical_pdq"),
        canonical_quality=int(_num(raw.get("canonical_quality"), "canonical_quality")),
        pdq_dihedral=_hexes(raw.get("pdq_dihedral", []), "pdq_dihedral"),
        canonical_dihedral=_hexes(raw.get("canonical_dihedral", []), "canonical_dihedral"),
        canonical_variants=_hexes(raw.get("canonical_variants", []), "canonical_variants"),
    )


def signals_from_wire(raw: object, name: str) -> MediaSignals:
    """Validate and rebuild MediaSignals from a worker reply.

    Raises WorkerCrashed (``path=name``) when any field has the wrong type or shape.
    """
    try:
        if not isinstance(raw, dict):
            raise ValueError("signals is not an object")
        frames = raw.get("frames")
        if not isinstance(frames, list) or not frames or len(frames) > 4096:
            raise ValueError("frames is not a non-empty list")
        fmt = raw.get("format")
        if not isinstance(fmt, str) or len(fmt) > 16:
            raise ValueError("format is not a short string")
        return MediaSignals(
            md5=_hex(raw.get("md5"), _HEX32, "md5"),
            sha256=_hex(raw.get("sha256"), _HEX64, "sha256"),
            format=fmt,
            width=int(_num(raw.get("width"), "width")),
            height=int(_num(raw.get("height"), "height")),
            animated=bool(raw.get("animated")),
            frame_count=int(_num(raw.get("frame_count"), "frame_count")),
            duration_ms=float(_num(raw.get("duration_ms"), "duration_ms", float)),
            frames=[_frame_from_wire(f) if isinstance(f, dict) else _frame_from_wire({}) for f in frames],
        )
    except (ValueError, TypeError) as exc:
        raise WorkerCrashed(f"decoder worker sent malformed signals: {exc}", path=name) from exc
