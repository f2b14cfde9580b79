"""Signals: PDQ (plain and canonical sticker PDQ), MD5 and SHA-256.

Public surface::

    hash_bytes(data, *, name, limits) -> MediaSignals   # decode + hash every signal
    hash_image(image) -> (pdq_hex, quality)              # plain PDQ, after Meta's reference
    canonicalize(image) -> Image | None                  # sticker canonical form
    canonical_variants(image) -> [Image]                 # ... flattened onto white / black, cropped
    occluded_forms(image) -> [Occluded]                  # ... with one canvas region erased (REGIONS)
    DIHEDRAL_NAMES                                       # order of the 8 dihedral hashes
    hamming(a_hex, b_hex) -> int                         # distance in bits
    SIGNAL_TYPES: dict[name, SignalType]                 # "pdq", "sticker_pdq", "md5", "sha256"
"""

from .types import FrameSignals, MediaSignals
from .base import REGIONS, SIGNAL_TYPES, SignalType, hamming, signal_type
from .pdq import DIHEDRAL_NAMES, hash_image, hash_image_dihedral
from .canonical import canonical_variants, canonicalize
from .occlusion import Occluded, occluded_forms
from .hasher import hash_bytes, hash_file

__all__ = [
    "DIHEDRAL_NAMES",
    "Occluded",
    "REGIONS",
    "SIGNAL_TYPES",
    "FrameSignals",
    "MediaSignals",
    "SignalType",
    "canonical_variants",
    "canonicalize",
    "hamming",
    "hash_bytes",
    "hash_file",
    "hash_image",
    "hash_image_dihedral",
    "occluded_forms",
    "signal_type",
]
