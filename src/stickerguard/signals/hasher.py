"""Decode + hash every signal of one file: MD5, SHA-256, plain and canonical PDQ per frame.

Frame policy (documented in docs/signals.md):

* Sampling: ``media.decode`` keeps frame 0 and the frames covering the midpoints of
  ``SPREAD.count(duration)`` equal slots of the whole animation (24 for anything up to
  12 s, then one per 500 ms, at most 63: ``media.Spread``). Relative, not absolute,
  time: a copy played twice as fast, re-encoded with rounded frame durations or with
  frames dropped is sampled at the same points of its content (absolute 250 ms sampling,
  used before, drifted on all three; docs/signals.md). At most ``MAX_FRAMES`` (64) are
  hashed; more would be thinned evenly.
* Empty frames (``canonicalize`` returns None: fully transparent or one flat colour)
  are skipped. If every frame is empty, frame 0 is kept anyway with its plain PDQ
  (quality ~0) and ``canonical_pdq=None`` so the file still has one FrameSignals.
* Near-duplicates: a frame whose plain PDQ and canonical PDQ are both within
  ``DEDUPE_BITS`` (8) bits of the last kept frame is dropped.
* A static image always gives exactly one FrameSignals.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..media.sampling import Spread
from .base import hamming
from .canonical import canonical_forms, canonical_square
from .occlusion import GRID_SPAN, QUERY_MIN_SHARE, erase_regions
from .pdq import hash_image_dihedral, hash_rgb, hash_rgb_dihedral
from .types import FrameSignals, MediaSignals

if TYPE_CHECKING:
    from ..media import DecodedMedia, Frame, Limits

#: Frame sampling asked of ``media.decode``: spread over the duration (see the module docstring).
SPREAD = Spread()
#: Most frames hashed per file; more sampled frames are thinned evenly to this many.
MAX_FRAMES = 64
#: Consecutive kept frames closer than this (plain and canonical PDQ, bits) are merged.
DEDUPE_BITS = 8


def thin_frames(frames: list, limit: int = MAX_FRAMES) -> list:
    """Keep at most ``limit`` items, evenly spread, always including the first and last."""
    if len(frames) <= limit:
        return list(frames)
    picks = np.linspace(0, len(frames) - 1, limit).round().astype(int)
    return [frames[i] for i in sorted(set(picks.tolist()))]


def _jpeg_reference_image(data: bytes) -> Image.Image | None:
    """A lazy Pillow JPEG (so ``hash_image`` can draft it like Meta's reference), or None.

    None when the JPEG carries an EXIF orientation other than 1: the decoded frame is
    then already turned upright by ``media.decode`` and is hashed instead.
    """
    im = Image.open(io.BytesIO(data))
    if im.format != "JPEG" or im.getexif().get(0x0112, 1) != 1:
        return None
    return im


def hash_frame(image: Image.Image, *, index: int = 0, timestamp_ms: float = 0.0,
               plain_source: Image.Image | None = None, variants: bool = True,
               occluded: bool = False) -> FrameSignals:
    """Every PDQ signal of one frame.

    Args:
        image: the composited frame (RGBA from ``media.decode``, or any Pillow image).
        index, timestamp_ms: copied into the result.
        plain_source: image to take the plain PDQ from instead of ``image`` (a lazy
            JPEG for reference-exact drafting); the canonical PDQ always uses ``image``.
        variants: also compute ``canonical_variants`` (bank side: flattened and
            cropped forms; ~5 ms per 512 px frame). Queries may skip them.
    Returns:
        FrameSignals with plain PDQ + dihedral, canonical PDQ + dihedral (None / () for
        an empty frame), ``canonical_variants`` (see ``canonical_variants``) and
        ``canonical_occluded``.
    """
    plain, quality = hash_image_dihedral(plain_source if plain_source is not None else image)
    span = GRID_SPAN if occluded else 1.0
    if variants:
        canon, variant_images, square = canonical_forms(image, span=span)
    else:
        (canon, square), variant_images = canonical_square(image, span=span), []
    if canon is None:
        return FrameSignals(index=index, timestamp_ms=timestamp_ms, pdq=plain[0], quality=quality,
                            canonical_pdq=None, canonical_quality=0, pdq_dihedral=plain)
    cdih, cquality = hash_rgb_dihedral(np.asarray(canon))
    variant_hashes = tuple(h for h in dict.fromkeys(hash_rgb(np.asarray(v))[0] for v in variant_images) if h != cdih[0])
    occ = ()
    if occluded and square is not None:
        forms = erase_regions(square, image.width, image.height, min_share=-1.0 if variants else QUERY_MIN_SHARE)
        occ = tuple((o.region, *hash_rgb(np.asarray(o.image)), round(o.share, 4)) for o in forms)
    return FrameSignals(
        index=index,
        timestamp_ms=timestamp_ms,
        pdq=plain[0],
        quality=quality,
        canonical_pdq=cdih[0],
        canonical_quality=cquality,
        pdq_dihedral=plain,
        canonical_dihedral=cdih,
        canonical_variants=variant_hashes,
        canonical_occluded=occ,
    )


def _near(a: FrameSignals, b: FrameSignals) -> bool:
    if hamming(a.pdq, b.pdq) > DEDUPE_BITS:
        return False
    if (a.canonical_pdq is None) != (b.canonical_pdq is None):
        return False
    return a.canonical_pdq is None or hamming(a.canonical_pdq, b.canonical_pdq) <= DEDUPE_BITS


def hash_decoded(decoded: "DecodedMedia", data: bytes, *, variants: bool = True,
                 occluded: bool = True) -> MediaSignals:
    """Hash an already decoded file (see the module docstring for the frame policy).

    Args:
        decoded: ``media.decode`` output (frames already sampled).
        data: the exact file bytes (MD5/SHA-256 are taken over them; a static JPEG is
            also re-opened lazily from them for reference-exact plain PDQ).
        variants: compute ``canonical_variants`` (see :func:`hash_frame`).
        occluded: compute ``canonical_occluded`` for a static file (see
            :func:`hash_frame`); False saves ~1-2 ms per 512 px sticker (docs/bench/hash.md)
            and loses the overlay matches.
    """
    frames: list[Frame] = thin_frames(decoded.frames)
    plain_source = None
    if decoded.format == "jpeg" and not decoded.animated:
        plain_source = _jpeg_reference_image(data)
    kept: list[FrameSignals] = []
    first: FrameSignals | None = None
    for frame in frames:
        sig = hash_frame(frame.image, index=frame.index, timestamp_ms=frame.timestamp_ms,
                         plain_source=plain_source, variants=variants,
                         occluded=occluded and not decoded.animated)
        first = first or sig
        if sig.canonical_pdq is None:
            continue
        if kept and _near(kept[-1], sig):
            continue
        kept.append(sig)
    if not kept and first is not None:
        kept = [first]
    return MediaSignals(
        md5=hashlib.md5(data).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        animated=decoded.animated,
        frame_count=decoded.frame_count,
        duration_ms=decoded.duration_ms,
        frames=kept,
    )


def hash_bytes(data: bytes, *, name: str = "<bytes>", limits: "Limits | None" = None,
               variants: bool = True, occluded: bool = True) -> MediaSignals:
    """Decode ``data`` with ``media.decode`` and compute every signal.

    Args:
        data: raw file bytes (untrusted; checked against ``limits``).
        name: file name used as ``path=`` in errors.
        limits: ``media.Limits`` (default ``DEFAULT_LIMITS``).
        variants: compute ``FrameSignals.canonical_variants`` (needed when adding to a
            bank; a query may pass False and save ~5 ms per 512 px frame).
        occluded: compute ``FrameSignals.canonical_occluded`` (static files; see
            :func:`hash_decoded`).
    Returns:
        MediaSignals: md5/sha256 of ``data`` and at least one FrameSignals.
    Raises:
        UnsupportedMedia, DecodeError, LimitExceeded: from ``media.decode``.
    """
    from ..media import DEFAULT_LIMITS, decode  # lazy: keeps signals importable on its own

    decoded = decode(data, name=name, limits=limits or DEFAULT_LIMITS, spread=SPREAD)
    return hash_decoded(decoded, data, variants=variants, occluded=occluded)


def hash_file(path: str | Path, *, limits: "Limits | None" = None, variants: bool = True,
              occluded: bool = True) -> MediaSignals:
    """Read ``path`` and :func:`hash_bytes` it (errors carry ``path=str(path)``).

    Raises LimitExceeded before reading a file larger than ``limits.max_file_bytes``,
    OSError if it cannot be read, and whatever :func:`hash_bytes` raises.
    """
    from ..media import DEFAULT_LIMITS
    from ..media.limits import check_file_bytes

    lim = limits or DEFAULT_LIMITS
    p = Path(path)
    check_file_bytes(p.stat().st_size, lim, str(path))
    return hash_bytes(p.read_bytes(), name=str(path), limits=lim, variants=variants, occluded=occluded)
