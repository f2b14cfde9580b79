"""Safety limits for untrusted media (all configurable; defaults follow platform sticker rules plus headroom)."""

from __future__ import annotations

from dataclasses import dataclass


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
