"""Wire format between the parent and a decoder worker: fixed binary records, no pickle.

Why not pickle: the worker parses hostile media, so it must be treated as possibly
compromised. Unpickling its replies would hand it code execution in the parent.

Why binary: a sticker's reply is ~20 hashes; as JSON, encoding, parsing and checking each
hash against a hex pattern cost more CPU per file than the rest of the round trip (measured
~0.1 ms warm, ~0.3 ms with the caches cold after a 7 ms decode). As fixed ``struct``
records the parent unpacks the numbers and turns the raw digests into hex itself, so every
hash is lowercase hex of the right length by construction and only counts and sizes need
checking.

Request (parent -> worker): :data:`REQUEST` ``(op, flags, name_len, opts_len,
payload_len)``, then the file name (UTF-8), the options (JSON: ``{"limits": {...}, ...}``;
the same bytes for every file of a scan, so the worker parses each distinct value once),
then the payload (the file bytes).

Reply (worker -> parent): :data:`REPLY` ``(kind, flags, body_len, payload_len)``, then the
body, then the payload:

* ``KIND_SIGNALS``: body = :func:`signals_to_wire` (binary MediaSignals);
* ``KIND_ERROR``: body = JSON ``{"code", "message", "field"}``; flag ``FATAL`` = the
  worker exits after this reply;
* ``KIND_JSON``: body = JSON (ready message, decoded-frame headers, test hooks); the
  payload carries raw RGBA frames for ``op=decode``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import struct
from typing import TYPE_CHECKING

from ..errors import DecodeError, LimitExceeded, PackError, StickerguardError, UnsupportedMedia

if TYPE_CHECKING:  # imported lazily: the parent can start workers before loading the decoders
    from ..media.limits import Limits
    from ..signals.types import MediaSignals

#: Request header: op, flags, name length, options length, payload length.
REQUEST = struct.Struct("<BBHII")
#: Reply header: kind, flags, body length, payload length.
REPLY = struct.Struct("<BBxxII")
OP_HASH, OP_DECODE, OP_TEST = 1, 2, 3
#: Request flag: also compute the canonical variants (``hash_bytes(variants=True)``).
FLAG_VARIANTS = 1
KIND_SIGNALS, KIND_ERROR, KIND_JSON = 1, 2, 3
#: Reply flag: the worker exits after this reply (out of memory, recursion).
FATAL = 1
#: Largest reply body accepted from a worker, in bytes (4096 frames of hashes is ~3 MB).
MAX_REPLY_BODY = 8 << 20
#: Longest error message kept from a worker, in characters.
MAX_MESSAGE_CHARS = 2000
#: Longest file name sent to a worker, in UTF-8 bytes (it only appears in messages).
MAX_NAME_BYTES = 4096
#: Most frames and most hashes per list accepted in a signals reply.
MAX_FRAMES, MAX_LIST = 4096, 16

# md5, sha256 (raw digests), format (NUL-padded ASCII), width, height, animated,
# frame_count, duration_ms, number of frames.
_MEDIA = struct.Struct("<16s32s16sIIBIdH")
# index, timestamp_ms, quality, has canonical_pdq, canonical_quality, the lengths of
# pdq_dihedral, canonical_dihedral, canonical_variants, and a bit mask of the regions
# in canonical_occluded (bit i = REGIONS[i]). The 32-byte hashes of every frame follow
# all frame records: pdq, [canonical_pdq], the three lists, the occluded hashes in
# region order, frame after frame; then one _OCCLUDED record (quality, share in 1/10000)
# per occluded hash, in the same order.
_FRAME = struct.Struct("<idiBiBBBB")
_OCCLUDED = struct.Struct("<BH")


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


def encode_request(op: int, flags: int, name: str, opts: bytes, payload_len: int) -> bytes:
    """Request header + name + options (the payload is written after it, uncopied)."""
    raw = name.encode("utf-8", "replace")[:MAX_NAME_BYTES]
    return REQUEST.pack(op, flags, len(raw), len(opts), payload_len) + raw + opts


def encode_reply(kind: int, body: bytes, payload: bytes = b"", flags: int = 0) -> bytes:
    """One reply message: header, body, payload."""
    return REPLY.pack(kind, flags, len(body), len(payload)) + body + payload


def json_reply(obj: dict, payload: bytes = b"", flags: int = 0) -> bytes:
    """A ``KIND_JSON`` reply."""
    return encode_reply(KIND_JSON, json.dumps(obj, separators=(",", ":")).encode(), payload, flags)


@functools.lru_cache(maxsize=32)
def options(limits: Limits | None, test_op: str | None = None) -> bytes:
    """Request options as JSON bytes: ``{"limits": {...}}`` (+ ``"test"``), cached per value.
    ``limits`` None = ``media.DEFAULT_LIMITS``."""
    if limits is None:
        from ..media.limits import DEFAULT_LIMITS as limits
    opts: dict = {"limits": dataclasses.asdict(limits)}
    if test_op is not None:
        opts["test"] = test_op
    return json.dumps(opts, separators=(",", ":")).encode()


def limits_from_wire(raw: dict) -> Limits:
    """Inverse of the ``limits`` entry of :func:`options`; unknown keys raise TypeError (caller bug)."""
    from ..media.limits import Limits

    values = dict(raw)
    values["max_format_bytes"] = tuple((str(k), int(v)) for k, v in values.get("max_format_bytes", ()))
    return Limits(**values)


def error_to_wire(exc: StickerguardError, *, fatal: bool = False) -> bytes:
    """A ``KIND_ERROR`` reply for a typed error (the path is the parent's to set)."""
    body = json.dumps({"code": exc.code, "message": exc.message, "field": exc.field}).encode()
    return encode_reply(KIND_ERROR, body, flags=FATAL if fatal else 0)


def error_from_wire(body: bytes, name: str) -> StickerguardError:
    """Rebuild a worker's typed error with ``path=name`` (the name the parent gave).

    An unknown code or a malformed body becomes :class:`WorkerCrashed`.
    """
    try:
        raw = json.loads(body)
    except ValueError:
        raw = None
    if not isinstance(raw, dict) or raw.get("code") not in ERROR_CLASSES or not isinstance(raw.get("message"), str):
        return WorkerCrashed("decoder worker sent a malformed error reply", path=name)
    field = raw.get("field")
    cls = ERROR_CLASSES[raw["code"]]
    return cls(raw["message"][:MAX_MESSAGE_CHARS], path=name, field=field if isinstance(field, str) else None)


def signals_to_wire(sig: MediaSignals) -> bytes:
    """MediaSignals as the binary body of a ``KIND_SIGNALS`` reply (see the record layouts above).

    Raises struct.error / ValueError when a value does not fit its field (never for the
    output of ``hash_bytes``).
    """
    from ..signals.base import REGIONS

    heads, hashes, occ = [_MEDIA.pack(bytes.fromhex(sig.md5), bytes.fromhex(sig.sha256), sig.format.encode("ascii"),
                                      sig.width, sig.height, sig.animated, sig.frame_count, sig.duration_ms,
                                      len(sig.frames))], [], []
    for fr in sig.frames:
        by_region = {o[0]: o for o in fr.canonical_occluded}
        if len(by_region) != len(fr.canonical_occluded):
            raise ValueError("a region appears twice in canonical_occluded")
        mask = sum(1 << REGIONS.index(r) for r in by_region)
        heads.append(_FRAME.pack(fr.index, fr.timestamp_ms, fr.quality, fr.canonical_pdq is not None,
                                 fr.canonical_quality, len(fr.pdq_dihedral), len(fr.canonical_dihedral),
                                 len(fr.canonical_variants), mask))
        hashes.append(fr.pdq)
        if fr.canonical_pdq is not None:
            hashes.append(fr.canonical_pdq)
        hashes += fr.pdq_dihedral
        hashes += fr.canonical_dihedral
        hashes += fr.canonical_variants
        for r in REGIONS:
            if r in by_region:
                _, value, quality, share = by_region[r]
                hashes.append(value)
                occ.append(_OCCLUDED.pack(quality, round(share * 10_000)))
    return b"".join(heads) + bytes.fromhex("".join(hashes)) + b"".join(occ)


def signals_from_wire(body: bytes, name: str) -> MediaSignals:
    """Check and rebuild MediaSignals from a ``KIND_SIGNALS`` body.

    Digests come back as raw bytes and are hexed here, so they are lowercase hex of the
    right length by construction; counts and the body size are checked. Raises
    WorkerCrashed (``path=name``) when the body is malformed.
    """
    from ..signals.base import REGIONS
    from ..signals.types import FrameSignals, MediaSignals

    try:
        md5, sha, fmt, width, height, animated, frame_count, duration_ms, n = _MEDIA.unpack_from(body)
        if not 0 < n <= MAX_FRAMES:
            raise ValueError(f"frame count {n} is out of range")
        block = _MEDIA.size + n * _FRAME.size
        records = list(_FRAME.iter_unpack(body[_MEDIA.size:block]))
        if len(records) != n:
            raise ValueError(f"body is {len(body)} bytes, too short for {n} frame records")
        if any(r[3] > 1 or max(r[5:8]) > MAX_LIST or r[8] >> len(REGIONS) for r in records):
            raise ValueError("frame record out of range")
        n_occ = sum(r[8].bit_count() for r in records)
        n_hashes = sum(1 + r[3] + r[5] + r[6] + r[7] for r in records) + n_occ
        expected = block + 32 * n_hashes + _OCCLUDED.size * n_occ
        if len(body) != expected:
            raise ValueError(f"body is {len(body)} bytes, expected {expected}")
        # One hex string for every hash, sliced per field.
        hx = body[block:block + 32 * n_hashes].hex()
        occ = iter(_OCCLUDED.iter_unpack(body[block + 32 * n_hashes:]))
        frames, pos = [], 0
        for index, ts, quality, has_c, c_quality, n1, n2, n3, mask in records:
            end = pos + 64
            canonical = None
            if has_c:
                canonical = hx[end:end + 64]
                end += 64
            e1 = end + 64 * n1
            e2 = e1 + 64 * n2
            e3 = e2 + 64 * n3
            occluded, e4 = [], e3
            for bit, region in enumerate(REGIONS):
                if mask >> bit & 1:
                    q, share = next(occ)
                    occluded.append((region, hx[e4:e4 + 64], q, share / 10_000))
                    e4 += 64
            frames.append(FrameSignals(index, ts, hx[pos:pos + 64], quality, canonical, c_quality,
                                       tuple([hx[p:p + 64] for p in range(end, e1, 64)]),
                                       tuple([hx[p:p + 64] for p in range(e1, e2, 64)]),
                                       tuple([hx[p:p + 64] for p in range(e2, e3, 64)]),
                                       tuple(occluded)))
            pos = e4
        fmt = fmt.rstrip(b"\0").decode("ascii")
        return MediaSignals(md5.hex(), sha.hex(), fmt, width, height, bool(animated), frame_count, duration_ms, frames)
    except (ValueError, TypeError, struct.error) as exc:
        raise WorkerCrashed(f"decoder worker sent malformed signals: {exc}", path=name) from exc
