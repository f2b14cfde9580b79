"""Sticker canonical form: find the drawing, centre and scale it by its moments, 64x64.

Why: stickers are transparent, and plain PDQ hashes whatever colour a client flattened
them onto (Meta's reference drops alpha, exposing the colour stored under transparent
pixels) and the margins around the drawing. On the Cuppy pack, flattening onto white
instead of black moves plain PDQ a median of 98 bits and shrinking the drawing to 70 %
inside the same transparent canvas 128 bits (match threshold: 31). The canonical form
removes both degrees of freedom so that the same drawing gives (nearly) the same PDQ
however it was flattened, padded, trimmed or slightly cropped.

Algorithm (deterministic; constants below; measurements in docs/signals.md):

1. Transparent frames (any alpha < 255): the drawing is every pixel with alpha >
   ``ALPHA_THRESHOLD`` (faint halos and shadows do not move its centre or size). Its
   moments (step 4) come from exact full-resolution row/column counts; only the moment
   square is then box-reduced, by k = max(1, side // ``SQUARE_WORK_SIZE``) on a grid
   centred on the square's rounded centre (so a padded or trimmed copy reduces to the
   same blocks, a mirrored or rotated one to the mirrored or rotated blocks),
   alpha-composited onto white (premultiplied block sums, ``canonkern``).
2. Opaque frames (a query a client already flattened, e.g. JPEG on white, PNG on
   black; code and constants in ``signals.background``) are box-reduced by
   k = max(1, longest side // ``WORK_SIZE``). Per-pixel noise would average into a
   near-uniform colour, so it is looked for first at full resolution
   (:func:`noise_blocks`, per pixel): if the border is noise, every noise block is
   background. Else the background colour is the median of the 1-px outer border, provided at least
   ``BORDER_UNIFORM_FRACTION`` of border pixels lie within ``COLOUR_TOLERANCE`` of it
   (max abs channel difference, 0..255). Background = pixels within
   ``COLOUR_TOLERANCE`` of that colour and 4-connected to the border
   (``scipy.ndimage.label``), plus enclosed pixels within ``HOLE_TOLERANCE`` of it
   (holes such as a mug handle were transparent too); drawing specks under
   ``SPECK_PIXELS`` are dropped. If the border is neither (small frames:
   :func:`noise_mask` on the reduced frame), a photo: the whole frame is the drawing.
   Background pixels are painted white.
3. No drawing pixel left -> the frame is empty -> None.
4. Normalise by moments, not by the bounding box: the centre is the drawing mask's
   centroid and the scale its RMS radius r (root mean squared distance of mask pixels
   from the centroid). The square of side ``SPREAD`` * r around the centre (white
   outside the frame) is resized to ``CANONICAL_SIZE`` (64) px with ``BICUBIC``.
   Moments move little when a crop cuts the drawing's edge or a padding, trim or
   shrink changes the canvas (Cuppy crop 5 %: max 94 bits with the bounding box, 28
   with moments), and they are invariant under the 8 rotations/mirrors.
   64x64 is PDQ's own working size: pdqhash's Jarosz window is then 1 px (a no-op)
   and its decimation the identity, so its DCT-domain dihedral hashes equal the hashes
   of the rotated / mirrored canonical image.

Cost: one pass over the RGBA pixels for the mask counts, one over the moment square;
~0.45 ms per 512x512 Cuppy sticker (was 3.4 ms compositing and resizing at full
resolution with Pillow; docs/signals.md).

What it cannot undo: a drawing whose own edge has the flattening colour (a white
stroke flattened onto white, black outline onto black) loses that edge in step 2.
:func:`canonical_variants` covers white and black for bank entries.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

# step 2 (opaque frames) lives in .background; re-exported here, where callers look for it
from .background import background_colour, foreground_mask, noise_blocks, noise_mask  # noqa: F401
from .canonkern import alpha_projection, block_sums, flatten_blocks, mean_colour, region_sums

#: Colour a canonical form is flattened onto (RGB) ...
BACKGROUND = (255, 255, 255)
#: ... unless its drawing is this light (mean luma, 0..255, alpha-weighted): then onto LIGHT_BACKGROUND.
LIGHT_LUMA = 232.0
LIGHT_BACKGROUND = (0, 0, 0)
#: Alpha at or below this (0..255) counts as fully transparent.
ALPHA_THRESHOLD = 32
#: Opaque frames are box-reduced by k = max(1, longest side // WORK_SIZE) before anything else (pixels).
WORK_SIZE = 256
#: Transparent frames: the moment square is box-reduced by k = max(1, its side // SQUARE_WORK_SIZE) (pixels).
SQUARE_WORK_SIZE = 96
#: Side of the canonical square in pixels.
CANONICAL_SIZE = 64
#: Side of the square cut around the drawing's centroid, in RMS radii of the drawing.
SPREAD = 3.0
#: Pillow filter for the final resize.
RESAMPLE = Image.Resampling.BICUBIC

#: Colours a transparent frame is also flattened onto for :func:`canonical_variants`.
VARIANT_BACKGROUNDS: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (0, 0, 0))
#: Share of each side cut off for the cropped variants of :func:`canonical_variants`.
CROP_VARIANTS: tuple[float, ...] = (0.03, 0.06, 0.09)


def has_transparency(image: Image.Image) -> bool:
    """True if the image has alpha (channel or palette transparency) below 255 somewhere."""
    if image.mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        return image.getchannel(image.getbands()[-1]).getextrema()[0] < 255
    if "transparency" in image.info:
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255
    return False


def moment_box(fg: np.ndarray) -> tuple[float, float, float, float] | None:
    """Square ``(x0, y0, x1, y1)`` (float pixels) of side ``SPREAD`` * RMS radius around the centroid of ``fg``.

    ``fg``: bool (h, w) drawing mask; pixel (x, y) counts at its centre (x + 0.5, y + 0.5).
    The RMS radius gets 0.5 px added so a one-pixel drawing still has a size. None when
    ``fg`` is empty. Computed from row/column projections (exact, O(h*w)).
    """
    return _projection_box(fg.sum(axis=1, dtype=np.float64), fg.sum(axis=0, dtype=np.float64))


def _projection_box(rows: np.ndarray, cols: np.ndarray) -> tuple[float, float, float, float] | None:
    """:func:`moment_box` from the mask's per-row (h,) and per-column (w,) pixel counts."""
    rows, cols = rows.astype(np.float64), cols.astype(np.float64)
    total = rows.sum()
    if total == 0:
        return None
    y = np.arange(len(rows)) + 0.5
    x = np.arange(len(cols)) + 0.5
    cy, cx = (rows @ y) / total, (cols @ x) / total
    var = (rows @ (y - cy) ** 2 + cols @ (x - cx) ** 2) / total
    half = SPREAD * (float(np.sqrt(var)) + 0.5) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def paint_colour(mean_rgb) -> tuple[int, int, int]:
    """The background of a canonical form whose drawing has mean colour ``mean_rgb``
    (0..255 floats): ``BACKGROUND`` (white), or
    ``LIGHT_BACKGROUND`` (black) when the drawing's luma (ITU-R 601, as PDQ reads it)
    is at least ``LIGHT_LUMA``.

    Why: a white drawing on white is blank (PDQ quality 0, never searched): Telegram's
    white-on-transparent icon animations (``collectible_phone.tgs``, the
    ``swipe_action_*`` set) had no usable canonical frame at all.
    """
    r, g, b = (float(c) for c in mean_rgb)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    return LIGHT_BACKGROUND if luma >= LIGHT_LUMA else BACKGROUND


def _render(rgb: Image.Image, box: tuple[float, float, float, float], size: int,
            pad: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """``box`` of ``rgb`` (``pad`` outside the image) resized to ``size`` x ``size`` (``RESAMPLE``)."""
    x0, y0, x1, y1 = box
    left, top = max(0, int(np.ceil(-x0))), max(0, int(np.ceil(-y0)))
    right, bottom = max(0, int(np.ceil(x1 - rgb.width))), max(0, int(np.ceil(y1 - rgb.height)))
    if left or top or right or bottom:
        canvas = Image.new("RGB", (rgb.width + left + right, rgb.height + top + bottom), pad)
        canvas.paste(rgb, (left, top))
        rgb = canvas
    return rgb.resize((size, size), RESAMPLE, box=(x0 + left, y0 + top, x1 + left, y1 + top))


def _square(rgb: Image.Image, fg: np.ndarray, size: int) -> Image.Image | None:
    """Paint non-``fg`` white (black for a light drawing: :func:`paint_colour`), cut the
    moment square of ``fg`` (step 4), resize."""
    box = moment_box(fg)
    if box is None:
        return None
    paint = BACKGROUND
    if not fg.all():
        paint = paint_colour(mean_colour(np.asarray(rgb), fg, False))
        rgb = Image.composite(rgb, Image.new("RGB", rgb.size, paint), Image.fromarray(fg))
    return _render(rgb, box, size, paint)


class _Reduced:
    """A frame box-reduced by ``k`` (``canonkern.block_sums``): premultiplied sums per block."""

    def __init__(self, image: Image.Image) -> None:
        if image.mode != "RGBA":  # RGB -> RGBA is one fast pass; P/LA keep their transparency
            image = image.convert("RGBA")
        self.k = max(1, max(image.size) // WORK_SIZE)
        self.pixels = np.ascontiguousarray(np.asarray(image))  # (h, w, 4) uint8
        self.packed = packed = self.pixels.view("<u4")[..., 0]  # little-endian RGBA: A is the high byte
        self.colour, self.alpha, self.rows, self.cols, min_alpha = block_sums(packed, self.k, ALPHA_THRESHOLD)
        self.transparent = min_alpha < 255
        h, w = packed.shape
        ny = np.minimum(self.k, h - self.k * np.arange(self.alpha.shape[0]))
        nx = np.minimum(self.k, w - self.k * np.arange(self.alpha.shape[1]))
        self.count = (ny[:, None] * nx[None, :]).astype(np.float64)  # pixels per block (edges partial)

    def flatten(self, colour: tuple[int, int, int]) -> Image.Image:
        """Block means of the frame alpha-composited onto ``colour``, RGB."""
        return Image.fromarray(flatten_blocks(self.colour, self.alpha, self.count, *colour), "RGB")

    def opaque(self, size: int) -> tuple[Image.Image | None, Image.Image, np.ndarray]:
        """Steps 2-4 for an opaque frame: (canonical form or None, reduced RGB, drawing mask)."""
        rgb = self.flatten(BACKGROUND)
        fg = foreground_mask(rgb, noise_blocks(self.pixels, self.k))
        return _square(rgb, fg, size), rgb, fg


class Square(NamedTuple):
    """Block sums around a transparent frame's moment square (step 1), for reuse.

    ``colour`` int64 (m, m, 3) premultiplied sums and ``alpha`` int64 (m, m) alpha sums
    of k x k blocks (``canonkern.region_sums``) on a grid whose top-left pixel is
    ``(ax, ay)``; the moment square's own n x n blocks start ``offset`` blocks in (m = n
    unless :func:`moment_square` was asked for a wider ``span``); ``box`` the moment
    square ``(x0, y0, x1, y1)`` in frame pixels; ``paint`` the background colour of the
    form (:func:`paint_colour` of the moment square's blocks). ``signals.occlusion``
    erases regions from these sums.
    """

    colour: np.ndarray
    alpha: np.ndarray
    k: int
    ax: int
    ay: int
    box: tuple[float, float, float, float]
    paint: tuple[int, int, int]
    offset: int = 0
    n: int = 0

    def inner(self) -> "Square":
        """The moment square's own blocks (what the canonical form is cut from)."""
        o, n = self.offset, self.n
        if o == 0 and n == len(self.alpha):
            return self
        return Square(self.colour[o:o + n, o:o + n], self.alpha[o:o + n, o:o + n], self.k,
                      self.ax + o * self.k, self.ay + o * self.k, self.box, self.paint, 0, n)


def moment_square(packed: np.ndarray, rows: np.ndarray, cols: np.ndarray, span: float = 1.0) -> Square | None:
    """Step 1 for an RGBA frame (``packed``: uint32 (h, w) view; ``rows``/``cols``: its
    mask projections): exact full-resolution moments; the moment square box-reduced by
    k = max(1, side // SQUARE_WORK_SIZE) on a grid centred on it. ``span`` > 1 sums a
    grid that many sides wide around it in the same pass (same blocks; for
    ``signals.occlusion``). None when empty."""
    box = _projection_box(rows, cols)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    k = max(1, int((x1 - x0) // SQUARE_WORK_SIZE))
    n = 2 * (int(np.ceil((x1 - x0) / k / 2)) + 1)  # even: the grid is symmetric about its centre
    m = max(n, 2 * (int(np.ceil(span * (x1 - x0) / k / 2)) + 1))
    # grid centred on the rounded centre: a whole-pixel shift (pad, trim) moves it by as
    # many pixels, and a mirror or rotation maps it onto itself
    ax, ay = round((x0 + x1) / 2) - m * k // 2, round((y0 + y1) / 2) - m * k // 2
    colour, alpha = region_sums(packed, k, ax, ay, m, m)
    o = (m - n) // 2
    # all zeros (-> white) if nothing is drawn
    paint = paint_colour(mean_colour(colour[o:o + n, o:o + n], alpha[o:o + n, o:o + n], True))
    return Square(colour, alpha, k, ax, ay, box, paint, o, n)


def render_square(sq: Square, size: int) -> Image.Image:
    """The canonical form from a :class:`Square` (pass ``sq.inner()`` for the plain
    form): its blocks flattened onto ``sq.paint``, the moment square ``sq.box`` cut and
    resized to ``size``."""
    x0, y0, x1, y1 = sq.box
    k, ax, ay = sq.k, sq.ax, sq.ay
    return _render(Image.fromarray(flatten_square(sq), "RGB"),
                   ((x0 - ax) / k, (y0 - ay) / k, (x1 - ax) / k, (y1 - ay) / k), size, sq.paint)


def flatten_square(sq: Square) -> np.ndarray:
    """Block means of a :class:`Square` composited onto its paint colour, uint8 (n, n, 3)."""
    # every block is whole (k x k): one count broadcast, not a float array per call
    count = np.broadcast_to(np.float64(sq.k * sq.k), sq.alpha.shape)
    return flatten_blocks(sq.colour, sq.alpha, count, *sq.paint)


def _opaque_form(rgb: Image.Image, size: int) -> Image.Image | None:
    return _square(rgb, foreground_mask(rgb), size)


def canonical_forms(image: Image.Image, size: int = CANONICAL_SIZE, span: float = 1.0
                    ) -> tuple[Image.Image | None, list[Image.Image], Square | None]:
    """``(canonicalize(image), canonical_variants(image), square)`` sharing one reduced
    copy; ``square`` as from :func:`canonical_square`."""
    if image.width == 0 or image.height == 0:
        return None, [], None
    red = _Reduced(image)
    if not red.transparent:
        canon, rgb, fg = red.opaque(size)
        if canon is None:
            return None, [], None
        # the whole frame, background included: what this image becomes once a client
        # pads or shrinks it inside a transparent canvas (step 1 keeps the background)
        whole = [] if fg.all() else [_square(rgb, np.ones_like(fg), size)]
        return canon, whole + _cropped_forms(image, size, fg.sum(axis=1), fg.sum(axis=0), red.k), None
    sq = moment_square(red.packed, red.rows, red.cols, span)
    if sq is None:
        return None, [], None
    variants = [_opaque_form(red.flatten(c), size) for c in VARIANT_BACKGROUNDS]
    variants += _cropped_forms(image, size, red.rows, red.cols, 1)
    return render_square(sq.inner(), size), [v for v in variants if v is not None], sq


def _cropped_forms(image: Image.Image, size: int, rows: np.ndarray, cols: np.ndarray, k: int
                   ) -> list[Image.Image]:
    """Canonical forms of ``image`` with ``CROP_VARIANTS`` of each side cut off.

    ``rows``/``cols``: per-row (h/k,) and per-column (w/k,) counts of the drawing mask
    on a grid of k x k pixel blocks. A crop that cuts no drawn block is skipped: it
    gives the canonical form itself, or all but (transparent frames: the reduction grid
    is anchored on the moment square). So are crops leaving under 8 px.
    """
    out = []
    w, h = image.size
    for share in CROP_VARIANTS:
        dx, dy = round(w * share), round(h * share)
        if min(w - 2 * dx, h - 2 * dy) < 8 or not (dx or dy):
            continue
        bx, by = -(-dx // k), -(-dy // k)  # blocks the margin touches
        if not (rows[:by].any() or rows[len(rows) - by:].any() or cols[:bx].any() or cols[len(cols) - bx:].any()):
            continue
        form = canonical_square(image.crop((dx, dy, w - dx, h - dy)), size)[0]
        if form is not None:
            out.append(form)
    return out


def canonicalize(image: Image.Image, size: int = CANONICAL_SIZE) -> Image.Image | None:
    """The sticker canonical form of one frame (steps in the module docstring).

    Args:
        image: any Pillow image, transparent (RGBA/LA/P with transparency) or
            already flattened onto some colour. Not modified.
        size: side of the output square in pixels (default 64, PDQ's working size).
    Returns:
        An opaque ``RGB`` image ``size`` x ``size``: the drawing on white, its centroid
        in the middle, ``SPREAD`` RMS radii across; None when the frame is empty (fully
        transparent, or all one colour).
    """
    return canonical_square(image, size)[0]


def canonical_square(image: Image.Image, size: int = CANONICAL_SIZE,
                     span: float = 1.0) -> tuple[Image.Image | None, Square | None]:
    """:func:`canonicalize`, plus the :class:`Square` it was cut from (None for an
    opaque or empty frame; ``span`` as for :func:`moment_square`), so
    ``signals.occlusion`` need not read the pixels again."""
    if image.width == 0 or image.height == 0:
        return None, None
    if image.mode != "RGBA":
        image = image.convert("RGBA")
    packed = np.asarray(image).view("<u4")[..., 0]  # little-endian RGBA: A is the high byte
    rows, cols, min_alpha = alpha_projection(packed, ALPHA_THRESHOLD)
    if min_alpha < 255:
        sq = moment_square(packed, rows, cols, span)
        return (None, None) if sq is None else (render_square(sq.inner(), size), sq)
    return _Reduced(image).opaque(size)[0], None


def canonical_variants(image: Image.Image, size: int = CANONICAL_SIZE) -> list[Image.Image]:
    """Canonical forms of a frame as it looks after a client's edit the query cannot undo.

    * Transparent frame: a query that arrives flattened has lost its alpha; where the
      drawing's own edge has the flattening colour (white stroke on white, black outline
      on black), step 2 cannot tell edge from background. So the frame alpha-composited
      onto each of ``VARIANT_BACKGROUNDS`` (white, black) is canonicalised too; a query
      flattened onto that colour lands on it (max 2-4 bits on Cuppy).
    * Opaque frame whose background step 2 removed: the whole frame, background
      included. A client that pads or shrinks it inside a transparent canvas makes it
      transparent, and step 1 then keeps that background (openclipart
      ``food/menu_example1.png`` padded 20 %: 126 bits from the canonical form, 2 from
      this variant).
    * Cropped copies: the frame with ``CROP_VARIANTS`` (3, 6, 9 %) of each side cut
      off, canonicalised. A crop that cuts into the drawing moves its centroid and
      shrinks its RMS radius, which no query-side step can undo; these land a query
      cropped by about 2-10 % within the threshold (detection benchmark, 500 known
      items: crop 5 % 81.4 -> 96.9 % recall at 31, crop 8 % 49.8 -> 93.8 %;
      docs/signals.md). Skipped for a transparent frame whose margins hold no drawing.

    A bank entry stores these as extra ``sticker_pdq`` values.

    Returns:
        RGB ``size`` x ``size`` images (empty results skipped); ``[]`` for an empty frame
        or an opaque frame that is all drawing (a photo).
    """
    return canonical_forms(image, size)[1]
