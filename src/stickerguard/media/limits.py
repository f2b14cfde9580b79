"""Safety limits for untrusted media (all configurable; defaults follow platform sticker rules plus headroom).

Also holds the ``check_*`` helpers that raise ``LimitExceeded`` with one message format
for every decoder: ``"<what> is <value seen>, over the limit of <limit> (<field>)"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LimitExceeded


#: Bytes per sniffed format (see ``sniff``). Platform rules (docs/security.md): WhatsApp
#: static 100 KB / animated 500 KB WebP; Telegram static 512 KB, .tgs 64 KB, WebM 256 KB;
#: Signal 300 KB PNG/APNG/WebP. Defaults give 8-16x headroom over the largest platform
#: sticker; JPEG/BMP/MP4 are not sticker formats but appear in reports and seized media.
DEFAULT_FORMAT_BYTES: tuple[tuple[str, int], ...] = (
    ("webp", 4 << 20),
    ("png", 8 << 20),
    ("gif", 8 << 20),
    ("jpeg", 16 << 20),
    ("bmp", 16 << 20),
    ("tgs", 1 << 20),
    ("webm", 4 << 20),
    ("mp4", 16 << 20),
)


@dataclass(frozen=True)
class Limits:
    """Hard limits checked before and during decoding (docs/security.md gives each one's why).

    Attributes:
        max_file_bytes: largest input file accepted in any format, in bytes (checked
            before sniffing; also the cap for one archive member).
        max_format_bytes: per-format byte limits as ``((format, bytes), ...)`` pairs
            (formats as returned by ``sniff``); a format not listed has only
            ``max_file_bytes``. See :data:`DEFAULT_FORMAT_BYTES`.
        max_pixels: largest canvas (width*height) per frame.
        max_total_pixels: most pixels decoded over all frames of one file (frame count
            x canvas), which bounds decoding work and memory for animations.
        max_frames: most frames an animation may declare or yield.
        max_duration_ms: longest total animation duration, in milliseconds.
        max_tgs_json_bytes: largest decompressed Lottie JSON inside a .tgs, in bytes.
        max_lottie_depth: deepest JSON nesting (objects/arrays) in a Lottie document.
        max_lottie_layers: most layers in a Lottie once precomposition references are
            expanded (a precomp used N times counts its layers N times).
        max_archive_members: most members in a .wastickers / zip archive.
        max_archive_bytes: largest total uncompressed size of an archive, in bytes.
        max_archive_ratio: largest compression ratio of any archive member.
    """

    max_file_bytes: int = 64 * 1024 * 1024
    max_format_bytes: tuple[tuple[str, int], ...] = DEFAULT_FORMAT_BYTES
    max_pixels: int = 4096 * 4096
    max_total_pixels: int = 512 * 512 * 1024
    max_frames: int = 2000
    max_duration_ms: float = 120_000.0
    max_tgs_json_bytes: int = 16 * 1024 * 1024
    max_lottie_depth: int = 64
    max_lottie_layers: int = 1000
    max_archive_members: int = 1000
    max_archive_bytes: int = 512 * 1024 * 1024
    max_archive_ratio: float = 200.0

    def format_bytes(self, fmt: str) -> int:
        """Byte limit for sniffed format ``fmt``: its ``max_format_bytes`` entry, capped
        by ``max_file_bytes`` (``max_file_bytes`` alone when the format is not listed)."""
        for name, limit in self.max_format_bytes:
            if name == fmt:
                return min(limit, self.max_file_bytes)
        return self.max_file_bytes


DEFAULT_LIMITS = Limits()


def check_file_bytes(size: int, limits: Limits, name: str) -> None:
    """Raise LimitExceeded when ``size`` (bytes) is over ``limits.max_file_bytes``."""
    if size > limits.max_file_bytes:
        raise LimitExceeded(
            f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes (max_file_bytes)",
            path=name,
            field="max_file_bytes",
        )


def check_format_bytes(size: int, fmt: str, limits: Limits, name: str) -> None:
    """Raise LimitExceeded when ``size`` bytes is over the limit for sniffed format ``fmt``."""
    limit = limits.format_bytes(fmt)
    if size > limit:
        raise LimitExceeded(
            f"{fmt} file is {size} bytes, over the limit of {limit} bytes for {fmt} (max_format_bytes)",
            path=name,
            field="max_format_bytes",
        )


def check_total_pixels(total: int, limits: Limits, name: str, *, at_least: bool = False) -> None:
    """Raise LimitExceeded when ``total`` decoded pixels (all frames) is over ``limits.max_total_pixels``.

    ``at_least`` words the message for animations still being decoded.
    """
    if total > limits.max_total_pixels:
        qualifier = "at least " if at_least else ""
        raise LimitExceeded(
            f"animation decodes to {qualifier}{total} pixels over all frames, over the limit of "
            f"{limits.max_total_pixels} (max_total_pixels)",
            path=name,
            field="max_total_pixels",
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
