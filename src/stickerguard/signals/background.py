"""Opaque frames: where the background is (step 2 of ``signals.canonical``).

A query a client already flattened (JPEG on white, PNG on black, a noise background) has
no alpha; these functions find the drawing in it: a near-uniform border colour and the
pixels connected to the border within a tolerance, or a per-pixel noise background
judged at full resolution. Constants and measurements: ``docs/signals.md``.
Re-exported by ``signals.canonical``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageChops
from scipy import ndimage

#: Max abs per-channel difference (0..255) for a pixel to match the background colour.
COLOUR_TOLERANCE = 40
#: Tighter tolerance for enclosed background-coloured pixels (former transparent holes).
HOLE_TOLERANCE = 12
#: Share of border pixels that must match their median colour for it to be background.
BORDER_UNIFORM_FRACTION = 0.5
#: Neighbour jump (max abs channel difference, 0..255) that :func:`noise_blocks` counts.
NOISE_JUMP = 40
#: Drawing components smaller than this (pixels of the work grid) are noise, not drawing.
SPECK_PIXELS = 6
#: Noise components smaller than this (blocks of the work grid) are drawing, not background.
NOISE_SPECK_PIXELS = 12
#: A pixel is "textured" if a channel differs from its 3x3 median by more than this (0..255)...
NOISE_RESIDUAL = 24
#: ... in more than this share of its 5x5 neighbourhood.
NOISE_DENSITY = 0.4
#: Share of the 1-px border that must be textured for a noise background.
NOISE_BORDER_FRACTION = 0.6
#: A "noise background" covering at least this share of the frame is texture (a photo), not
#: background (was 0.95: a thin drawing such as an axe on noise covers only ~4 % of the frame).
NOISE_MAX_FRACTION = 0.99
#: :func:`noise_blocks`: a pixel is noise when at least this many of its 4 neighbours jump ...
NOISE_NEIGHBOURS = 3
#: ... and a block is noise when more than this share of its pixels are.
NOISE_BLOCK_SHARE = 0.5


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


def noise_mask(rgb: np.ndarray) -> np.ndarray | None:
    """Bool (h, w) background mask of a per-pixel noise background, or None if the border is not noise.

    A pixel is textured when more than ``NOISE_DENSITY`` of its 5x5 neighbourhood
    differs from the 3x3 median (per channel, ``scipy.ndimage.median_filter``) by more
    than ``NOISE_RESIDUAL``. Flat drawing areas and thin outlines are not textured;
    uniform random noise is. If at least ``NOISE_BORDER_FRACTION`` of the 1-px border
    is textured, the textured pixels 4-connected to the border are the background,
    unless they cover ``NOISE_MAX_FRACTION`` of the frame (then it is all texture: None).
    """
    med = ndimage.median_filter(rgb, size=(3, 3, 1))
    resid = np.abs(rgb.astype(np.int16) - med).max(axis=2) > NOISE_RESIDUAL
    textured = ndimage.uniform_filter(resid.astype(np.float32), size=5) > NOISE_DENSITY
    border = np.concatenate([textured[0], textured[-1], textured[1:-1, 0], textured[1:-1, -1]])
    if border.mean() < NOISE_BORDER_FRACTION:
        return None
    background = _border_connected(textured)
    return None if background.mean() >= NOISE_MAX_FRACTION else background


def _border_connected(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    lookup = np.zeros(count + 1, dtype=bool)
    lookup[edge] = True
    lookup[0] = False
    return lookup[labels]


def foreground_mask(rgb: Image.Image, noise: np.ndarray | None = None) -> np.ndarray:
    """Bool (h, w) mask of the drawing in an opaque RGB image (step 2 of the module doc).

    ``noise``: optional bool (h, w) noise blocks of the same frame (:func:`noise_blocks`,
    which found a noise border); when given, every noise block is background, the
    enclosed ones too (a drawing's holes, e.g. a mug handle, were transparent; a
    drawing is not per-pixel noise) but for specks under ``NOISE_SPECK_PIXELS``, unless
    they cover ``NOISE_MAX_FRACTION`` of the frame (then it is a photo: all drawing).
    """
    arr = np.asarray(rgb)
    if noise is not None:
        if noise.mean() >= NOISE_MAX_FRACTION:
            return np.ones(arr.shape[:2], dtype=bool)
        # noise specks inside the drawing are its own pixels that happen to jump (texture,
        # thin antialiased strokes): given back to it
        return _drop_specks(~_drop_specks(noise, NOISE_SPECK_PIXELS))
    colour = background_colour(arr)
    if colour is None:
        noise = noise_mask(arr) if min(arr.shape[:2]) >= 8 else None
        return np.ones(arr.shape[:2], dtype=bool) if noise is None else ~noise
    diff = _max_channel_diff(rgb, colour)
    return _drop_specks(~(_border_connected(diff <= COLOUR_TOLERANCE) | (diff <= HOLE_TOLERANCE)))


def _jumps(a: np.ndarray, axis: int) -> np.ndarray:
    """Bool: neighbours along ``axis`` differ by more than ``NOISE_JUMP`` in some channel."""
    b = a.astype(np.int16)
    d = np.diff(b, axis=axis)
    return np.abs(d).max(axis=-1) > NOISE_JUMP


def noise_blocks(pixels: np.ndarray, k: int) -> np.ndarray | None:
    """Bool (ceil(h/k), ceil(w/k)) "per-pixel noise" blocks of a full-resolution opaque frame, or None.

    Box-reducing a noise background averages it into a near-uniform colour with outliers,
    so noise is judged per pixel at full resolution: a pixel is noise when at least
    ``NOISE_NEIGHBOURS`` of its 4 neighbours (mirrored at the frame's edge) differ from
    it by more than ``NOISE_JUMP`` in some channel (uniform RGB noise: each pair ~97 %;
    a drawing's pixel, even on a 1-px line or at its rim, has at most 2 such
    neighbours). A block is noise when more than ``NOISE_BLOCK_SHARE`` of its pixels
    are. None (no noise background) unless ``NOISE_BORDER_FRACTION`` of the frame's 1-px
    border pairs jump (checked first: it costs almost nothing).

    The earlier test counted jumping pairs per block: a drawing's rim block, half noise,
    became background, which thinned line art and small glyphs by a block a side
    (benchmark noise background 68.6 -> 77.3 % with this test alone; docs/signals.md).
    """
    h, w = pixels.shape[:2]
    if k < 1 or h < 2 or w < 2:
        return None
    ring = np.concatenate([_jumps(pixels[0], 0), _jumps(pixels[-1], 0), _jumps(pixels[:, 0], 0),
                           _jumps(pixels[:, -1], 0)])
    if ring.mean() < NOISE_BORDER_FRACTION:
        return None
    rgb = np.pad(pixels[..., :3], ((1, 1), (1, 1), (0, 0)), mode="reflect")
    across = _jumps(rgb, 1)  # (h + 2, w + 1): pixel and its right neighbour
    down = _jumps(rgb, 0)  # (h + 1, w + 2): pixel and the one below
    count = across[1:-1, :-1].astype(np.uint8) + across[1:-1, 1:] + down[:-1, 1:-1] + down[1:, 1:-1]
    bh, bw = -(-h // k), -(-w // k)
    noise = np.zeros((bh * k, bw * k), np.float32)
    noise[:h, :w] = count >= NOISE_NEIGHBOURS
    pixels_per_block = np.zeros_like(noise)
    pixels_per_block[:h, :w] = 1
    share = noise.reshape(bh, k, bw, k).sum(axis=(1, 3)) / pixels_per_block.reshape(bh, k, bw, k).sum(axis=(1, 3))
    return share > NOISE_BLOCK_SHARE


def _drop_specks(fg: np.ndarray, speck: int = SPECK_PIXELS) -> np.ndarray:
    """``fg`` without 8-connected components of fewer than ``speck`` pixels.

    A noise background averaged down to the work grid is a near-uniform colour with
    scattered outliers; left in, they move the moments (Cuppy noise_background: median
    56 bits with them).
    """
    labels, count = ndimage.label(fg, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return fg
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes >= speck
    keep[0] = False
    return keep[labels] if not keep[1:].all() else fg
