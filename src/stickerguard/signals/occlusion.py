"""Occluded canonical forms: the sticker canonical form with one region of the canvas erased.

Why: a chat client's sticker editor lets users paste an emoji in a corner or write a
caption along the bottom. The overlay is part of the drawing to the canonical form, so
it moves the drawing's centroid and RMS radius and covers part of it: on the detection
benchmark (docs/bench/detect.md) canonical PDQ found 15 % of emoji-overlay copies and
57 % of captioned ones. If the region an overlay sits in is erased on both sides, the
query minus overlay and the bank item minus the same region are the same drawing again.

Regions (:data:`REGIONS`, boxes from :func:`region_boxes`, in canvas pixels): the four
corner squares of ``CORNER`` x the shorter side, where editors place reactions, and the
bottom and top bands of ``BAND`` x the height, where captions go.

Algorithm, per frame with transparency (opaque frames get none):

1. Start from block sums around the plain canonical form's moment square
   (``canonical.moment_square`` with ``span=GRID_SPAN``: its k x k blocks, about 96
   across the square, on a grid ``GRID_SPAN`` square sides wide centred on the
   drawing), so the frame's pixels are read once for all seven forms and every form
   has the plain form's resolution. Drawing outside that grid is left out, on both
   sides alike. (Tried on the detection benchmark: reducing the whole canvas to 64
   blocks made small drawings into blobs whose PDQs all agreed, and cost ~3 ms per
   512 px sticker; the moment square alone, span 1, lost 19 points of emoji-overlay
   recall: the overlay moves the square, so each side cut different drawing away.)
2. For each region, erase every block whose top-left pixel lies inside the region box
   (``region_blocks``): it leaves the moments and is painted the form's background
   colour (that of the whole drawing, ``canonical.paint_colour``).
3. ``share``: the fraction of the square's total alpha the region held. On the query
   side a region with share at most ``QUERY_MIN_SHARE`` is skipped (nothing to occlude
   there: the plain canonical form already covers it); the bank side keeps every
   region, empty ones too (an emoji pasted over an empty corner of the original). A
   region holding all of the drawing gives no form. (Skipping regions holding more
   than half of the drawing, tried on the detection benchmark, lost 6 points of
   emoji-overlay recall and removed no false match.)
4. Moments of what is left, weighted by block alpha; the square of ``SPREAD`` RMS radii
   around its centroid is cut from the blocks and resized to 64 x 64
   (``canonical._render``, as the plain form).

Matching (docs/matching.md): a query's ``erased_<region>`` hash is compared only with
the bank's hash of the same region, at the stricter ``match.OCCLUDED_THRESHOLD``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from .base import REGIONS
from .canonical import CANONICAL_SIZE, Square, _projection_box, _render, canonical_square, flatten_square

#: Corner regions: squares of this fraction of the canvas's shorter side.
CORNER = 0.32
#: Band regions: full width, this fraction of the canvas height.
BAND = 0.22
#: The block grid spans this many moment-square sides around the drawing's centre (step 1).
GRID_SPAN = 2.0
#: A query skips regions holding at most this share of the drawing's alpha (step 3).
QUERY_MIN_SHARE = 0.03


class Occluded(NamedTuple):
    """One occluded canonical form: ``region`` (a name of :data:`REGIONS`), the RGB
    64 x 64 ``image``, and ``share`` (0..1, the drawing's alpha the region held)."""

    region: str
    image: Image.Image
    share: float


def region_boxes(width: int, height: int) -> dict[str, tuple[int, int, int, int]]:
    """Pixel boxes ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of every region of a canvas.

    Corners are ``round(CORNER * min(width, height))`` px squares; bands span the full
    width and ``round(BAND * height)`` px.
    """
    c = round(CORNER * min(width, height))
    b = round(BAND * height)
    return {
        "top_left": (0, 0, c, c),
        "top_right": (width - c, 0, width, c),
        "bottom_right": (width - c, height - c, width, height),
        "bottom_left": (0, height - c, c, height),
        "bottom": (0, height - b, width, height),
        "top": (0, 0, width, b),
    }


def region_blocks(box: tuple[int, int, int, int], ax: int, ay: int, k: int,
                  shape: tuple[int, int]) -> tuple[slice, slice]:
    """Rows and columns of the blocks of a grid (origin ``(ax, ay)``, block side ``k``,
    ``shape`` = (rows, cols)) whose top-left pixel lies inside ``box``."""
    x0, y0, x1, y1 = box

    def span(lo: int, hi: int, origin: int, n: int) -> slice:
        first = max(0, -((origin - lo) // k))  # ceil((lo - origin) / k)
        last = min(n, -((origin - hi) // k))  # blocks whose start is < hi
        return slice(first, max(first, last))

    return span(y0, y1, ay, shape[0]), span(x0, x1, ax, shape[1])


def occluded_forms(image: Image.Image, size: int = CANONICAL_SIZE, *, min_share: float = 0.0) -> list[Occluded]:
    """Occluded canonical forms of one frame: :func:`erase_regions` of its moment square.

    ``[]`` for an opaque or empty frame. ``min_share`` as for :func:`erase_regions`.
    """
    _canon, sq = canonical_square(image, size, GRID_SPAN)
    return [] if sq is None else erase_regions(sq, image.width, image.height, size, min_share=min_share)


def erase_regions(sq: Square, width: int, height: int, size: int = CANONICAL_SIZE, *,
                  min_share: float = 0.0) -> list[Occluded]:
    """Occluded canonical forms from the block sums of a frame's moment square
    (``canonical.canonical_square``; algorithm in the module docstring).

    Args:
        sq: the frame's :class:`~stickerguard.signals.canonical.Square`.
        width, height: the frame's canvas size in pixels (the regions are the canvas's).
        size: side of each form in pixels (64, PDQ's working size).
        min_share: skip regions holding at most this share of the square's alpha (bank
            side -1: every region, even an empty one; query side ``QUERY_MIN_SHARE``).
            A region holding all of it is always skipped (nothing would be left).
    Returns:
        :class:`Occluded` forms in :data:`REGIONS` order.
    """
    alpha = sq.alpha
    whole = float(alpha.sum())
    if whole <= 0:
        return []
    arows, acols = alpha.sum(axis=1, dtype=np.float64), alpha.sum(axis=0, dtype=np.float64)
    base = Image.fromarray(flatten_square(sq), "RGB")
    out = []
    for region, box in region_boxes(width, height).items():
        ys, xs = region_blocks(box, sq.ax, sq.ay, sq.k, alpha.shape)
        part = alpha[ys, xs]
        held = float(part.sum())
        share = held / whole
        if share <= min_share or share >= 1.0:
            continue
        r_rows, r_cols = arows.copy(), acols.copy()
        r_rows[ys] -= part.sum(axis=1)
        r_cols[xs] -= part.sum(axis=0)
        mbox = _projection_box(r_rows, r_cols)  # block units, from the grid's origin
        if mbox is None:
            continue
        rgb = base.copy()  # Pillow copy + rectangle fill: no numpy round trip per region
        if ys.stop > ys.start and xs.stop > xs.start:
            rgb.paste(sq.paint, (xs.start, ys.start, xs.stop, ys.stop))
        out.append(Occluded(region, _render(rgb, mbox, size, sq.paint), share))
    return out
