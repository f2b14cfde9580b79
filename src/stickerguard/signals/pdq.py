"""Plain PDQ, computed the way Meta's reference Python hasher does.

Meta's published hashes for ``pdq/data`` (tests/data/pdq-reference/expected-pdq.csv)
come from ``pdq/python/pdqhashing/hasher/pdq_hasher.py`` (``PDQHasher.fromFile``):
``Image.open(path)``, ``img.thumbnail((512, 512))`` with the Pillow of 2019, then
``img.convert("RGB")``, luma ``0.299 R + 0.587 G + 0.114 B``, Jarosz tent filter,
64x64 decimation, 16x16 DCT, median threshold. The hashing arithmetic is reproduced
exactly by ``pdqhash`` (Meta's C++ core); what differs between setups is only how the
image is shrunk to fit 512x512. That Pillow's ``thumbnail`` (before 7.0) did:

1. target size: ``x, y = size``; if ``x > 512``: ``y = int(max(y * 512 / x, 1))``,
   ``x = 512``; then the same for ``y`` (truncating, not rounding);
2. ``draft(None, target)``: a JPEG is decoded by libjpeg at the largest DCT scale
   1/2, 1/4 or 1/8 that stays at least as large as the target;
3. ``resize(target, BICUBIC)`` with no ``reducing_gap`` (RGBA is resampled with
   premultiplied alpha, as Pillow always does).

:func:`hash_image` does exactly that (step 2 only when it is handed a still-lazy JPEG
``ImageFile``, e.g. straight from ``Image.open``). See docs/signals.md for the
measured agreement with the published hashes and the one residual 2-bit difference.

Backend: the arithmetic runs in :mod:`.fastpdq` (numba; bit-identical to pdqhash,
~5x faster) when numba is importable, else in ``pdqhash``. ``STICKERGUARD_PDQ=pdqhash``
in the environment forces pdqhash. :data:`BACKEND` says which one is in use.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pdqhash
from PIL import Image

# numba is optional at run time (pdqhash gives the same bits, slower) and loaded on the
# first hash, not at import: it costs 50-110 MB of RSS, which processes that only route
# work to the sandboxed decoders (the scanner, the web server) should not pay.
_UNLOADED = object()
_fast = _UNLOADED
_FORCED_PDQHASH = os.environ.get("STICKERGUARD_PDQ", "").lower() == "pdqhash"

#: PDQ arithmetic in use: ``"fastpdq"`` (numba) or ``"pdqhash"``.
BACKEND = "pdqhash" if _FORCED_PDQHASH or importlib.util.find_spec("numba") is None else "fastpdq"


def _backend():
    """The fastpdq module, imported on first use; None when pdqhash is to be used."""
    global _fast
    if _fast is _UNLOADED:
        _fast = None
        if BACKEND == "fastpdq":
            try:
                from . import fastpdq as module
            except ImportError:  # numba present but broken: same bits from pdqhash
                module = None
            _fast = module
    return _fast

#: Largest side fed to PDQ, as in Meta's reference (``thumbnail((512, 512))``).
REFERENCE_MAX_SIDE = 512

#: Names of the 8 dihedral variants, in ``pdqhash.compute_dihedral`` order (Meta's
#: C++ ``pdqDihedralHash256esFromFloatLuma``). Index k is the hash of the image after
#: the transform named here; the matching Pillow ``Image.transpose`` operation is in
#: :data:`DIHEDRAL_TRANSPOSE` (verified against tests/data/pdq-reference/dih).
DIHEDRAL_NAMES: tuple[str, ...] = (
    "identity",
    "rot90",
    "rot180",
    "rot270",
    "flip_x",
    "flip_y",
    "flip_plus1",
    "flip_minus1",
)

#: Pillow ``Transpose`` op (or None for identity) producing each dihedral variant.
#: Meta's names: rot90 is a 90-degree turn counter-clockwise (Pillow ROTATE_90),
#: flip_x mirrors top-bottom, flip_y mirrors left-right, flip_plus1 is the transpose
#: about the main diagonal, flip_minus1 about the anti-diagonal.
DIHEDRAL_TRANSPOSE: tuple[Image.Transpose | None, ...] = (
    None,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


def reference_size(width: int, height: int, max_side: int = REFERENCE_MAX_SIDE) -> tuple[int, int]:
    """Size the 2019 Pillow ``thumbnail((max_side, max_side))`` shrinks to (pixels).

    Aspect-preserving, truncating; never enlarges; each side at least 1.
    """
    x, y = width, height
    if x > max_side:
        y = int(max(y * max_side / x, 1))
        x = max_side
    if y > max_side:
        x = int(max(x * max_side / y, 1))
        y = max_side
    return x, y


def reference_rgb(image: Image.Image, max_side: int = REFERENCE_MAX_SIDE) -> np.ndarray:
    """The RGB pixels Meta's reference hashes: shrink to fit ``max_side``, then RGB.

    Args:
        image: any Pillow image (RGBA frames from ``media.decode``, or a lazy
            ``Image.open`` result: a JPEG that is not yet loaded is then decoded at
            reduced DCT scale via ``draft`` exactly as the reference did; ``draft``
            changes that lazy image in place, as ``thumbnail`` did in the reference).
    Returns:
        ``uint8`` array of shape (h, w, 3), C-contiguous.
    Alpha is dropped as ``Image.convert("RGB")`` does (no flattening; the colour
    stored under transparent pixels shows through, as in the reference).
    """
    rgb = reference_pixels(image, max_side)
    return rgb if rgb.shape[2] == 3 else np.ascontiguousarray(rgb[:, :, :3])


def reference_pixels(image: Image.Image, max_side: int = REFERENCE_MAX_SIDE) -> np.ndarray:
    """Like :func:`reference_rgb`, but an RGBA image is returned as RGBA (no copy to RGB).

    Returns:
        ``uint8`` array (h, w, 3) or (h, w, 4), C-contiguous; channels 0..2 equal
        :func:`reference_rgb`'s (``convert("RGB")`` of RGBA only drops alpha), so
        :func:`hash_rgb` gives the same hash for both and skips a 0.3-0.9 ms copy.
    """
    target = reference_size(*image.size, max_side=max_side)
    if target != image.size:
        if getattr(image, "format", None) == "JPEG" and getattr(image, "tile", None):
            image.draft(None, target)
        image = image.resize(target, Image.Resampling.BICUBIC)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def bits_to_hex(bits: np.ndarray) -> str:
    """256 PDQ bits (pdqhash vector, most significant first) -> 64 lowercase hex chars."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hash_rgb(rgb: np.ndarray) -> tuple[str, int]:
    """PDQ of an ``uint8`` (h, w, 3) RGB array (or (h, w, 4) RGBA, alpha ignored), no resizing.

    Returns (64-hex PDQ, quality 0..100), equal to ``pdqhash.compute`` of the RGB
    channels. Images under 5 px on a side hash to all zeros with quality 0 (Meta's
    ``MIN_HASHABLE_DIM``).
    """
    fast = _backend()
    if fast is not None:
        return fast.pdq_hex(rgb)
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb[:, :, :3]))
    return bits_to_hex(bits), int(quality)


def hash_rgb_dihedral(rgb: np.ndarray) -> tuple[tuple[str, ...], int]:
    """The 8 dihedral PDQ hashes of an RGB/RGBA array, in :data:`DIHEDRAL_NAMES` order
    (equal to ``pdqhash.compute_dihedral``; index 0 is the plain hash)."""
    fast = _backend()
    if fast is not None:
        return fast.pdq_hex_dihedral(rgb)
    vectors, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb[:, :, :3]))
    return tuple(bits_to_hex(v) for v in vectors), int(quality)


def hash_image(image: Image.Image) -> tuple[str, int]:
    """Plain PDQ of a Pillow image, computed like Meta's reference Python hasher.

    Args:
        image: any mode; shrunk to fit 512x512 (see module docstring), then RGB.
    Returns:
        (pdq_hex, quality): 256-bit PDQ as 64 lowercase hex chars and the PDQ quality
        0..100 (below 50 is not trustworthy; Meta recommends discarding <= 49).
    Source: Meta's pdq_hasher.py semantics, pdqhash (Meta's C++) arithmetic.
    """
    return hash_rgb(reference_pixels(image))


def hash_image_dihedral(image: Image.Image) -> tuple[tuple[str, ...], int]:
    """All 8 dihedral PDQ hashes of an image in one pass (``pdqhash.compute_dihedral``).

    Returns:
        (hashes, quality): 8 hashes of 64 hex chars in :data:`DIHEDRAL_NAMES` order
        (``hashes[0] == hash_image(image)[0]``) and the shared quality 0..100.
        ``hashes[k]`` approximates ``hash_image(image.transpose(DIHEDRAL_TRANSPOSE[k]))``.
    """
    return hash_rgb_dihedral(reference_pixels(image))
