"""Media: sniff the real format, decode frames safely, and read sticker packs.

Public surface::

    sniff(data) -> str                       # "webp", "png", ..., raises UnsupportedMedia
    decode(data, *, name, limits, sample_interval_ms | spread) -> DecodedMedia
    Spread(min_samples=24, max_samples=63, spacing_ms=500)   # speed-invariant sampling
    iter_stickers(paths, *, limits, signal_keys) -> Iterator[Sticker | SourceError]
    Limits, DEFAULT_LIMITS
"""

from .types import DecodedMedia, Frame, PackInfo, SourceError, Sticker
from .limits import DEFAULT_LIMITS, Limits
from .sniff import sniff
from .decode import decode
from .sampling import Spread
from .packs import iter_stickers

__all__ = [
    "DEFAULT_LIMITS",
    "DecodedMedia",
    "Frame",
    "Limits",
    "PackInfo",
    "SourceError",
    "Spread",
    "Sticker",
    "decode",
    "iter_stickers",
    "sniff",
]
