"""numba kernel of the canonical form: mask projections, premultiplied block sums, in one pass.

Why hand-rolled: the canonical form must cost well under a millisecond per 512x512
sticker (issue #3, fast hashing). Done with Pillow, the same work is three full-resolution
passes (``point`` on alpha, ``alpha_composite`` onto white, then a resize; ~3.4 ms),
and Pillow's ``reduce`` on RGBA averages the colour stored under transparent pixels into
the drawing's edge (it does not premultiply). This kernel reads each RGBA pixel once,
skips transparent ones after one compare, and accumulates premultiplied sums per
``k`` x ``k`` block plus the row and column counts of the drawing mask (from which
:func:`stickerguard.signals.canonical.moment_box` gets exact moments). Measured on the
25 Cuppy stickers: docs/signals.md.

Compiled on first use and cached next to this file (``cache=True``), like ``fastpdq``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def block_sums(pixels, k, alpha_threshold):  # pragma: no cover - compiled
    """Premultiplied colour and alpha sums over ``k`` x ``k`` blocks, plus the mask projections.

    Args:
        pixels: uint32 (h, w) view of RGBA pixels (``np.asarray(rgba).view(np.uint32)``,
            little-endian: R is the low byte, A the high byte), straight alpha.
        k: block side in pixels (>= 1); blocks at the right/bottom edge may be partial.
        alpha_threshold: alpha at or below this counts as 0 (not drawing).
    Returns:
        ``(colour, alpha, rows, cols, min_alpha)``: int64 (ceil(h/k), ceil(w/k), 3) sums
        of ``a * c`` per channel and int64 (ceil(h/k), ceil(w/k)) sums of ``a`` (every
        pixel, faint ones too: the same colours as a client's alpha composite), int64
        counts of mask pixels (alpha > threshold) per row (h,) and per column (w,), and
        the smallest alpha of the frame.

    Loops run along whole rows without branches (numba vectorises them); per block-row
    and column the k rows are summed first (int32: k * 255 * 255 fits for k < 33,000),
    then k columns at a time.
    """
    h, w = pixels.shape[0], pixels.shape[1]
    bh, bw = (h + k - 1) // k, (w + k - 1) // k
    colour = np.zeros((bh, bw, 3), np.int64)
    alpha = np.zeros((bh, bw), np.int64)
    acc = np.zeros((4, w), np.int32)  # one block-row at a time (see region_sums)
    rows = np.zeros(h, np.int64)
    cols32 = np.zeros(w, np.int32)
    amin = np.uint32(255)
    thr = np.uint32(alpha_threshold)
    for by in range(bh):
        acc[:] = 0
        r, g, b, s = acc[0], acc[1], acc[2], acc[3]
        for y in range(by * k, min(h, (by + 1) * k)):
            n = 0
            for x in range(w):
                v = pixels[y, x]
                a = v >> 24
                amin = min(amin, a)
                m = np.int32(a > thr)
                ai = np.int32(a)
                n += m
                cols32[x] += m
                r[x] += ai * np.int32(v & 255)
                g[x] += ai * np.int32((v >> 8) & 255)
                b[x] += ai * np.int32((v >> 16) & 255)
                s[x] += ai
            rows[y] = n
        for x in range(w):
            bx = x // k
            colour[by, bx, 0] += r[x]
            colour[by, bx, 1] += g[x]
            colour[by, bx, 2] += b[x]
            alpha[by, bx] += s[x]
    return colour, alpha, rows, cols32.astype(np.int64), np.int64(amin)


@njit(cache=True, nogil=True)
def flatten_blocks(colour, alpha, count, r, g, b):  # pragma: no cover - compiled
    """Block means of the frame alpha-composited onto colour (r, g, b), uint8 (bh, bw, 3).

    ``colour``/``alpha`` from :func:`block_sums`, ``count`` float64 (bh, bw) pixels per
    block; per block and channel ``C + (sum(a * c) - C * sum(a)) / (255 * count)``,
    rounded half to even and clipped to 0..255.
    """
    bh, bw = alpha.shape
    out = np.empty((bh, bw, 3), np.uint8)
    bg = (r, g, b)
    for by in range(bh):
        for bx in range(bw):
            den = 255.0 * count[by, bx]
            for c in range(3):
                v = bg[c] + (colour[by, bx, c] - bg[c] * alpha[by, bx]) / den
                out[by, bx, c] = np.uint8(min(255.0, max(0.0, np.rint(v))))
    return out


@njit(cache=True, nogil=True)
def alpha_projection(pixels, alpha_threshold):  # pragma: no cover - compiled
    """Mask (alpha > threshold) pixel counts per row (h,) and per column (w,), and the smallest alpha.

    ``pixels``: uint32 (h, w) RGBA view as for :func:`block_sums`. One branch-free pass.
    """
    h, w = pixels.shape[0], pixels.shape[1]
    rows = np.zeros(h, np.int64)
    cols = np.zeros(w, np.int32)
    amin = np.uint32(255)
    thr = np.uint32(alpha_threshold)
    for y in range(h):
        n = 0
        for x in range(w):
            a = pixels[y, x] >> 24
            amin = min(amin, a)
            m = np.int32(a > thr)
            n += m
            cols[x] += m
        rows[y] = n
    return rows, cols.astype(np.int64), np.int64(amin)


@njit(cache=True, nogil=True)
def region_sums(pixels, k, x0, y0, bh, bw):  # pragma: no cover - compiled
    """:func:`block_sums` colour and alpha sums over a ``bh`` x ``bw`` grid of k x k blocks anchored at (x0, y0).

    Block (i, j) covers pixels ``x0 + j*k .. x0 + (j+1)*k - 1`` (and likewise rows);
    pixels outside the frame count as fully transparent. Anchoring the grid at the
    drawing (not at the canvas corner) makes a padded or trimmed copy reduce to the
    same blocks.
    """
    h, w = pixels.shape[0], pixels.shape[1]
    xa, xb = max(0, x0), min(w, x0 + bw * k)
    ya, yb = max(0, y0), min(h, y0 + bh * k)
    span = max(0, xb - xa)
    colour = np.zeros((bh, bw, 3), np.int64)
    alpha = np.zeros((bh, bw), np.int64)
    # one block-row of column sums at a time (int32: k * 255 * 255 fits for k < 33,000);
    # a whole-grid buffer was MBs of fresh pages per call, which glibc maps and unmaps
    # every time at its default thresholds (~2 ms of page faults per sticker)
    acc = np.zeros((4, max(1, span)), np.int32)
    first, phase = divmod(xa - x0, k)
    y = ya
    while y < yb:
        by = (y - y0) // k
        y_end = min(yb, y0 + (by + 1) * k)
        acc[:] = 0
        r, g, b, s = acc[0], acc[1], acc[2], acc[3]
        for yy in range(y, y_end):
            row = pixels[yy, xa:xb]
            for i in range(span):
                v = row[i]
                ai = np.int32(v >> 24)
                r[i] += ai * np.int32(v & 255)
                g[i] += ai * np.int32((v >> 8) & 255)
                b[i] += ai * np.int32((v >> 16) & 255)
                s[i] += ai
        bx, rem = first, phase
        for i in range(span):
            colour[by, bx, 0] += r[i]
            colour[by, bx, 1] += g[i]
            colour[by, bx, 2] += b[i]
            alpha[by, bx] += s[i]
            rem += 1
            if rem == k:
                rem = 0
                bx += 1
        y = y_end
    return colour, alpha



@njit(cache=True, nogil=True)
def mean_colour(colour, weight, premultiplied):  # pragma: no cover - compiled
    """Weighted mean colour, float64 (3,), in one pass with exact integer sums; zeros when
    the weights sum to 0.

    * ``premultiplied=True``: ``colour`` holds per-block ``sum(a * c)`` and ``weight``
      the ``sum(a)`` (int64, from :func:`block_sums` / :func:`region_sums`): the
      alpha-weighted mean of the frame.
    * ``premultiplied=False``: ``colour`` is uint8 (h, w, 3) pixels and ``weight`` a
      bool (h, w) mask: the mean over the mask.

    (numpy's ``sum(axis=(0, 1))`` over interleaved channels took 0.2-0.8 ms on a 100-200
    block square; this is one pass.)
    """
    s0 = np.int64(0)
    s1 = np.int64(0)
    s2 = np.int64(0)
    total = np.int64(0)
    for y in range(weight.shape[0]):
        for x in range(weight.shape[1]):
            w = np.int64(weight[y, x])
            m = np.int64(1) if premultiplied else w
            s0 += m * np.int64(colour[y, x, 0])
            s1 += m * np.int64(colour[y, x, 1])
            s2 += m * np.int64(colour[y, x, 2])
            total += w
    out = np.zeros(3)
    if total > 0:
        out[0], out[1], out[2] = s0 / total, s1 / total, s2 / total
    return out
