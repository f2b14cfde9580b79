"""Sticker canonical form: find the drawing, trim it, centre it on white, 64x64.

Why: stickers are transparent, and plain PDQ hashes whatever colour a client flattened
them onto (Meta's reference drops alpha, exposing the colour stored under transparent
pixels) and the margins around the drawing. On the Cuppy pack, flattening onto white
instead of black moves plain PDQ a median of 98 bits and shrinking the drawing to 70 %
inside the same transparent canvas 128 bits (match threshold: 31). The canonical form
removes both degrees of freedom so that the same drawing gives (nearly) the same PDQ
however it was flattened, padded or trimmed.

Algorithm (deterministic; constants below; measurements in docs/signals.md):

1. Transparent frames (any alpha < 255), at full resolution: the drawing is every
   pixel with alpha > ``ALPHA_THRESHOLD`` (faint halos and shadows then neither tint
   the result nor widen the box); its bounding box is cut out and alpha-composited
   onto white.
2. Opaque frames (a query a client already flattened, e.g. JPEG on white, PNG on
   black), shrunk first to fit ``WORK_SIZE`` (Pillow ``BOX``): the background colour
   is the median of the 1-px outer border, provided at least
   ``BORDER_UNIFORM_FRACTION`` of border pixels lie within ``COLOUR_TOLERANCE`` of it
   (max abs channel difference, 0..255); otherwise (a photo) the whole frame is the
   drawing. Background = pixels within ``COLOUR_TOLERANCE`` of that colour and
   4-connected to the border (``scipy.ndimage.label``), plus enclosed pixels within
   ``HOLE_TOLERANCE`` of it (holes such as a mug handle were transparent too). They
   are painted white.
3. Trim to the bounding box of the drawing; none left -> the frame is empty -> None.
4. Centre the box on a white square and resize it to ``CANONICAL_SIZE`` (64) px with
   ``BICUBIC``. 64x64 is PDQ's own working size: pdqhash's Jarosz window is then 1 px
   (a no-op) and its decimation the identity, so its DCT-domain dihedral hashes equal the hashes of the rotated /
   mirrored canonical image (Cuppy mirror distance max 6 bits; 40 with a 256 px image).

What it cannot undo: a drawing whose own edge has the flattening colour (a white
stroke flattened onto white, black outline onto black) loses that edge in step 2.
:func:`canonical_variants` covers white and black for bank entries.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops
from scipy import ndimage

#: Colour every canonical form is flattened onto (RGB).
BACKGROUND = (255, 255, 255)
#: Alpha at or below this (0..255) counts as fully transparent.
ALPHA_THRESHOLD = 32
#: Max abs per-channel difference (0..255) for a pixel to match the background colour.
COLOUR_TOLERANCE = 40
#: Tighter tolerance for enclosed background-coloured pixels (former transparent holes).
HOLE_TOLERANCE = 12
#: Share of border pixels that must match their median colour for it to be background.
BORDER_UNIFORM_FRACTION = 0.5
#: Longest side the opaque-frame background search works at, in pixels.
WORK_SIZE = 256
#: Side of the canonical square in pixels.
CANONICAL_SIZE = 64
#: Pillow filter for the final resize.
RESAMPLE = Image.Resampling.BICUBIC

_ALPHA_LUT = [0] * (ALPHA_THRESHOLD + 1) + list(range(ALPHA_THRESHOLD + 1, 256))

#: Colours a transparent frame is also flattened onto for :func:`canonical_variants`.
VARIANT_BACKGROUNDS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (0, 0, 0))


def has_transparency(image: Image.Image) -> bool:
    """True if the image has alpha (channel or palette transparency) below 255 somewhere."""
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        return image.getchannel(image.getbands()[-1]).getextrema()[0] < 255
    if "transparency" in image.info:
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255
    return False


def _fit(image: Image.Image) -> Image.Image:
    w, h = image.size
    scale = WORK_SIZE / max(w, h)
    if scale >= 1:
        return image
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX)


def _max_channel_diff(rgb: Image.Image, colour: tuple[int, int, int]) -> np.ndarray:
    diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, colour))
    r, g, b = diff.split()
    return np.asarray(ImageChops.lighter(ImageChops.lighter(r, g), b))


def background_colour(rgb: np.ndarray) -> tuple[int, int, int] | None:
    """Median colour of the outer 1-px border of ``rgb`` (uint8 h x w x 3) if near-uniform.

    Returns None when fewer than ``BORDER_UNIFORM_FRACTION`` of border pixels are
    within ``COLOUR_TOLERANCE`` of the median.
    """
    border = np.concatenate([rgb[0], rgb[-1], rgb[1:-1, 0], rgb[1:-1, -1]]).astype(np.int16)
    colour = np.median(border, axis=0).astype(np.int16)
    close = np.abs(border - colour).max(axis=1) <= COLOUR_TOLERANCE
    if close.mean() < BORDER_UNIFORM_FRACTION:
        return None
    return (int(colour[0]), int(colour[1]), int(colour[2]))


def foreground_mask(rgb: Image.Image) -> np.ndarray:
    """Bool (h, w) mask of the drawing in an opaque RGB image (step 2 of the module doc)."""
    colour = background_colour(np.asarray(rgb))
    if colour is None:
        return np.ones((rgb.height, rgb.width), dtype=bool)
    diff = _max_channel_diff(rgb, colour)
    labels, count = ndimage.label(diff <= COLOUR_TOLERANCE)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    lookup = np.zeros(count + 1, dtype=bool)
    lookup[edge] = True
    lookup[0] = False
    return ~(lookup[labels] | (diff <= HOLE_TOLERANCE))


def _pad_resize(crop: Image.Image, size: int) -> Image.Image:
    """Centre an RGB crop on a white square and resize it to ``size`` x ``size``."""
    side = max(crop.size)
    square = Image.new("RGB", (side, side), BACKGROUND)
    square.paste(crop, ((side - crop.width) // 2, (side - crop.height) // 2))
    return square.resize((size, size), RESAMPLE)


def _square(rgb: Image.Image, fg: np.ndarray, size: int) -> Image.Image | None:
    """Paint non-``fg`` white, trim to the box of ``fg``, centre on a white square, resize."""
    rows = np.flatnonzero(fg.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(fg.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    if not fg.all():
        white = Image.new("RGB", rgb.size, BACKGROUND)
        rgb = Image.composite(rgb, white, Image.fromarray(fg))
    return _pad_resize(rgb.crop(box), size)


def _flatten_onto(rgba: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    return Image.alpha_composite(Image.new("RGBA", rgba.size, colour + (255,)), rgba).convert("RGB")


def _transparent_form(rgba: Image.Image, size: int) -> Image.Image | None:
    """Steps 1, 3, 4 for an RGBA frame, at full resolution (the box is exact)."""
    alpha = rgba.getchannel("A").point(_ALPHA_LUT)
    box = alpha.getbbox()
    if box is None:
        return None
    crop = rgba.crop(box)
    crop.putalpha(alpha.crop(box))
    return _pad_resize(_flatten_onto(crop, BACKGROUND), size)


def _opaque_form(rgb: Image.Image, size: int) -> Image.Image | None:
    return _square(rgb, foreground_mask(rgb), size)


def canonical_forms(image: Image.Image, size: int = CANONICAL_SIZE) -> tuple[Image.Image | None, list[Image.Image]]:
    """``(canonicalize(image), canonical_variants(image))`` sharing one working copy."""
    if image.width == 0 or image.height == 0:
        return None, []
    if not has_transparency(image):
        return _opaque_form(_fit(image.convert("RGB") if image.mode != "RGB" else image), size), []
    rgba = image.convert("RGBA") if image.mode != "RGBA" else image
    canon = _transparent_form(rgba, size)
    if canon is None:
        return None, []
    small = _fit(rgba)
    variants = [_opaque_form(_flatten_onto(small, c), size) for c in VARIANT_BACKGROUNDS]
    return canon, [v for v in variants if v is not None]


def canonicalize(image: Image.Image, size: int = CANONICAL_SIZE) -> Image.Image | None:
    """The sticker canonical form of one frame (steps in the module docstring).

    Args:
        image: any Pillow image, transparent (RGBA/LA/P with transparency) or
            already flattened onto some colour. Not modified.
        size: side of the output square in pixels (default 64, PDQ's working size).
    Returns:
        An opaque ``RGB`` image ``size`` x ``size``: the drawing trimmed to its
        bounding box and centred on white; None when the frame is empty (fully
        transparent, or all one colour).
    """
    if image.width == 0 or image.height == 0:
        return None
    if has_transparency(image):
        return _transparent_form(image.convert("RGBA") if image.mode != "RGBA" else image, size)
    return _opaque_form(_fit(image.convert("RGB") if image.mode != "RGB" else image), size)


def canonical_variants(image: Image.Image, size: int = CANONICAL_SIZE) -> list[Image.Image]:
    """Canonical forms of a transparent frame as it looks once a client flattens it.

    A query that arrives flattened has lost its alpha; where the drawing's own edge
    has the flattening colour (white stroke on white, black outline on black), step 2
    cannot tell edge from background. A bank entry therefore also stores the canonical
    form of its frame alpha-composited onto each of ``VARIANT_BACKGROUNDS`` (white,
    black); a query flattened onto that colour lands on it (max 2-4 bits on Cuppy).

    Returns:
        One RGB ``size`` x ``size`` image per colour (empty results skipped); ``[]``
        when ``image`` has no transparency or is empty.
    """
    return canonical_forms(image, size)[1]
