"""Decode any supported media to composited RGBA frames.

``decode`` checks the file size, sniffs the real format from magic bytes and hands the
bytes to the decoder for that family: Pillow (``images``), rlottie (``lottie``) or
PyAV (``video``).
"""

from __future__ import annotations

from ..errors import UnsupportedMedia
from .images import PILLOW_FORMATS, decode_pillow
from .limits import DEFAULT_LIMITS, Limits, check_file_bytes, check_format_bytes
from .lottie import decode_tgs
from .sampling import Spread, check_sampling
from .sniff import sniff
from .types import DecodedMedia
from .video import DEMUXERS, decode_video


def decode(
    data: bytes,
    *,
    name: str = "<bytes>",
    limits: Limits = DEFAULT_LIMITS,
    sample_interval_ms: float | None = None,
    spread: Spread | None = None,
) -> DecodedMedia:
    """Decode ``data`` to full-canvas RGBA frames as a viewer shows them.

    Args:
        data: the raw file bytes (untrusted).
        name: file name used as ``path=`` in every error.
        limits: safety limits; ``max_file_bytes`` is checked first, then (after
            sniffing) ``max_format_bytes``, then per-format pixel / frame / duration /
            Lottie limits.
        sample_interval_ms: when given (> 0 ms), keep only the frames whose display
            interval ``[timestamp, timestamp + duration)`` contains a sample time
            ``0, interval, 2*interval, ...`` (frame 0 always). ``frame_count`` still counts
            every source frame and kept frames keep their source index and timestamp.
        spread: instead of an interval, keep frame 0 and the frames covering the
            midpoints of ``spread.count(duration)`` equal slots of the whole duration
            (``media.sampling.Spread``; what ``signals.hash_bytes`` uses). Decoders that
            do not know the duration up front read the timeline first (animated WebP:
            its ANMF chunks; GIF/APNG: every frame decoded twice; video: the packets
            demuxed once more).

    Returns:
        DecodedMedia with ``format`` from ``sniff`` (``webp png jpeg gif bmp tgs webm mp4``).

    Raises:
        LimitExceeded: a limit in ``limits`` was hit (message names value and limit).
        UnsupportedMedia: unknown format, or a zip archive ("zip archive, not a media file").
        DecodeError: empty, truncated or corrupt file.
        ValueError: ``sample_interval_ms`` is not a positive number, or both it and
            ``spread`` are given (caller bug).
    """
    check_sampling(sample_interval_ms, spread)  # validate the arguments before any work
    check_file_bytes(len(data), limits, name)
    fmt = sniff(data, name=name)
    if fmt != "zip":
        check_format_bytes(len(data), fmt, limits, name)
    if fmt in PILLOW_FORMATS:
        return decode_pillow(data, fmt, name=name, limits=limits, sample_interval_ms=sample_interval_ms,
                             spread=spread)
    if fmt == "tgs":
        return decode_tgs(data, name=name, limits=limits, sample_interval_ms=sample_interval_ms,
                          spread=spread)
    if fmt in DEMUXERS:
        return decode_video(data, fmt, name=name, limits=limits, sample_interval_ms=sample_interval_ms,
                            spread=spread)
    if fmt == "zip":
        raise UnsupportedMedia("zip archive, not a media file", path=name)
    raise UnsupportedMedia(f"no decoder for format {fmt!r}", path=name)  # pragma: no cover
