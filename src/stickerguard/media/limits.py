"""Safety limits for untrusted media (all configurable; defaults follow platform sticker rules plus headroom).

Also holds the ``check_*`` helpers that raise ``LimitExceeded`` with one message format
for every decoder: ``"<what> is <value seen>, over the limit of <limit> (<field>)"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LimitExceeded


@dataclass(frozen=True)
class Limits:
    """Hard limits checked before and during decoding.

    Attributes:
        max_file_bytes: largest input file accepted, in bytes.
        max_pixels: largest canvas (width*height) per frame.
        max_frames: most frames an animation may declare or yield.
        max_duration_ms: longest total animation duration, in milliseconds.
        max_tgs_json_bytes: largest decompressed Lottie JSON inside a .tgs, in bytes.
        max_archive_members: most members in a .wastickers / zip archive.
        max_archive_bytes: largest total uncompressed size of an archive, in bytes.
        max_archive_ratio: largest compression ratio of any archive member.
    """

    max_file_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    max_frames: int = 2000
    max_duration_ms: float = 120_000.0
    max_tgs_json_bytes: int = 16 * 1024 * 1024
    max_archive_members: int = 1000
    max_archive_bytes: int = 512 * 1024 * 1024
    max_archive_ratio: float = 200.0


DEFAULT_LIMITS = Limits()


def check_file_bytes(size: int, limits: Limits, name: str) -> None:
    """Raise LimitExceeded when ``size`` (bytes) is over ``limits.max_file_bytes``."""
    if size > limits.max_file_bytes:
        raise LimitExceeded(
            f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes (max_file_bytes)",
            path=name,
            field="max_file_bytes",
        )


def check_pixels(width: int, height: int, limits: Limits, name: str) -> None:
    """Raise LimitExceeded when a ``width`` x ``height`` canvas is over ``limits.max_pixels``."""
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            f"canvas {width}x{height} is {width * height} pixels, over the limit of "
            f"{limits.max_pixels} (max_pixels)",
            path=name,
            field="max_pixels",
        )


def check_frames(count: int, limits: Limits, name: str, *, at_least: bool = False) -> None:
    """Raise LimitExceeded when ``count`` frames is over ``limits.max_frames``.

    ``at_least`` words the message for streams whose total is not known yet.
    """
    if count > limits.max_frames:
        qualifier = "at least " if at_least else ""
        raise LimitExceeded(
            f"animation has {qualifier}{count} frames, over the limit of {limits.max_frames} (max_frames)",
            path=name,
            field="max_frames",
        )


def check_duration(duration_ms: float, limits: Limits, name: str) -> None:
    """Raise LimitExceeded when ``duration_ms`` (milliseconds) is over ``limits.max_duration_ms``."""
    if duration_ms > limits.max_duration_ms:
        raise LimitExceeded(
            f"animation lasts {duration_ms:g} ms, over the limit of {limits.max_duration_ms:g} ms (max_duration_ms)",
            path=name,
            field="max_duration_ms",
        )
