"""Sticker canonical form: empty frames, background handling, robustness on the Cuppy pack."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stickerguard.signals import canonical_variants, canonicalize, hamming, hash_file, hash_image
from stickerguard.signals.canonical import (CANONICAL_SIZE, background_colour, foreground_mask, has_transparency,
                                            moment_box, noise_blocks, noise_mask)
from stickerguard.signals.canonkern import alpha_projection, block_sums, flatten_blocks, region_sums
from stickerguard.signals.hasher import hash_frame
from stickerguard.transforms import TRANSFORMS, apply, apply_bytes, random_colour

DATA = Path(__file__).parent / "data"
CUPPY_FILES = sorted((DATA / "whatsapp-sample-packs" / "1").glob("*.webp"))
DIHEDRAL_TRANSFORMS = {"mirror", "rotate_90"}


@pytest.fixture(scope="module")
def cuppy():
    """name -> (RGBA image, FrameSignals) for the 25 Cuppy stickers."""
    out = {}
    for f in CUPPY_FILES:
        im = Image.open(f).convert("RGBA")
        out[f.stem] = (im, hash_frame(im))
    return out


def bank_distance(query: Image.Image, sig, transform: str) -> tuple[int, int]:
    """(canonical-only, canonical-or-variant) distance of a query to a bank frame, in bits.

    Dihedral transforms are compared against all 8 dihedral hashes, the way a query is
    matched against the bank with flips/rotations on.
    """
    q = hash_frame(query).canonical_pdq
    own = sig.canonical_dihedral if transform in DIHEDRAL_TRANSFORMS else sig.canonical_dihedral[:1]
    alone = min(hamming(q, h) for h in own)
    return alone, min([alone] + [hamming(q, h) for h in sig.canonical_variants])


def test_empty_frames_give_none():
    assert canonicalize(Image.new("RGBA", (512, 512), (0, 0, 0, 0))) is None
    assert canonicalize(Image.new("RGBA", (512, 512), (255, 0, 0, 20))) is None  # only a faint halo
    assert canonicalize(Image.new("RGB", (300, 200), (12, 200, 40))) is None
    assert canonicalize(Image.new("L", (40, 40), 0)) is None
    assert canonicalize(Image.new("RGBA", (0, 0))) is None
    assert canonical_variants(Image.new("RGBA", (64, 64), (0, 0, 0, 0))) == []


def test_opaque_and_palette_inputs():
    assert not has_transparency(Image.new("RGBA", (8, 8), (1, 2, 3, 255)))
    assert has_transparency(Image.new("LA", (8, 8), (1, 0)))
    pal = Image.new("P", (8, 8), 0)
    pal.info["transparency"] = 0
    assert has_transparency(pal)
    # a dark 40x20 bar on light grey: background found; RMS radius sqrt((40^2+20^2)/12)
    # = 12.91 (+0.5) px, so the 3-radius square is 40.2 px: the bar spans the width
    im = Image.new("RGB", (200, 100), (230, 230, 230))
    im.paste((10, 10, 10), (20, 30, 60, 50))
    out = np.asarray(canonicalize(im))
    assert out.shape == (CANONICAL_SIZE, CANONICAL_SIZE, 3)
    assert out[32, 2:62].max() == 10 and out[32, 0].tolist() == [71, 71, 71]  # bicubic ringing at the cut
    assert out[0, :].min() == 255 and out[-1, :].min() == 255
    assert (out[:, 32, 0] <= 10).sum() == 30 and (out[32, :, 0] <= 10).sum() == 62
    assert background_colour(np.asarray(im)) == (230, 230, 230)
    # bank-side variant of an opaque frame: the whole frame, grey background included
    (whole,) = canonical_variants(im)
    w = np.asarray(whole)
    assert w[0, 32].tolist() == [255, 255, 255]  # outside the frame
    assert w[32, 32].tolist() == [230, 230, 230] and w[28, 12].tolist() == [10, 10, 10]  # background kept, bar
    noise = np.random.default_rng(7).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    assert background_colour(noise) is None
    assert noise_mask(noise) is None  # all texture: a photo, not a background
    assert np.asarray(canonicalize(Image.fromarray(noise))).shape == (64, 64, 3)  # whole frame kept
    assert len(canonical_variants(Image.fromarray(noise))) == 3  # a photo: only its cropped copies (3, 6, 9 %)


def test_moment_box_exact():
    fg = np.zeros((100, 200), dtype=bool)
    fg[30:50, 20:60] = True  # centre (40, 40); variance of n pixel centres (n^2 - 1) / 12
    x0, y0, x1, y1 = moment_box(fg)
    half = 3.0 * (np.sqrt((40 ** 2 - 1 + 20 ** 2 - 1) / 12) + 0.5) / 2
    assert (x0, y0, x1, y1) == pytest.approx((40 - half, 40 - half, 40 + half, 40 + half), abs=1e-9)
    assert moment_box(np.zeros((4, 4), dtype=bool)) is None
    one = np.zeros((9, 9), dtype=bool)
    one[4, 4] = True
    assert moment_box(one) == pytest.approx((3.75, 3.75, 5.25, 5.25))


def test_noise_background_is_found(cuppy):
    im, _sig = cuppy["01_Cuppy_smile"]
    noisy = apply("noise_background", im, seed=0)
    small = noisy.resize((256, 256), Image.Resampling.BOX)
    bg = noise_mask(np.asarray(small))
    alpha = np.asarray(im.getchannel("A").resize((256, 256), Image.Resampling.BOX)) > 32
    assert bg is not None
    # background found = the transparent area, up to the drawing's rim (share of pixels)
    assert round(float((bg & ~alpha).mean()), 3) == 0.496 and round(float((bg & alpha).mean()), 3) == 0.005
    assert round(float(foreground_mask(small).mean()), 3) == 0.5


def test_kernels_equal_numpy_sums():
    rng = np.random.default_rng(3)
    px = rng.integers(0, 256, (37, 50, 4), dtype=np.uint8)
    px[..., 3][px[..., 3] < 100] = 0
    packed = px.view("<u4")[..., 0]
    a = px[..., 3].astype(np.int64)
    premul = np.concatenate([px[..., :3].astype(np.int64) * a[..., None], a[..., None]], axis=2)

    def blocks(arr, k, x0, y0, bh, bw):  # numpy reference: zero (transparent) outside the frame
        big = np.zeros((bh * k, bw * k, 4), np.int64)
        ys, xs = slice(max(0, y0), min(37, y0 + bh * k)), slice(max(0, x0), min(50, x0 + bw * k))
        big[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = arr[ys, xs]
        return big.reshape(bh, k, bw, k, 4).sum(axis=(1, 3))

    colour, alpha, rows, cols, amin = block_sums(packed, 4, 32)
    ref = blocks(premul, 4, 0, 0, 10, 13)
    assert np.array_equal(colour, ref[..., :3]) and np.array_equal(alpha, ref[..., 3])
    assert np.array_equal(rows, (a > 32).sum(axis=1)) and np.array_equal(cols, (a > 32).sum(axis=0))
    assert amin == 0
    prow, pcol, pmin = alpha_projection(packed, 32)
    assert np.array_equal(prow, rows) and np.array_equal(pcol, cols) and pmin == 0
    colour, alpha = region_sums(packed, 3, -5, 7, 12, 20)  # grid partly outside the frame
    ref = blocks(premul, 3, -5, 7, 12, 20)
    assert np.array_equal(colour, ref[..., :3]) and np.array_equal(alpha, ref[..., 3])
    # flattening: mean of the per-pixel composite onto (10, 20, 30), rounded
    count = np.full((12, 20), 9.0)
    flat = flatten_blocks(colour, alpha, count, 10, 20, 30)
    expect = np.rint(np.array([10, 20, 30]) + (colour - np.array([10, 20, 30]) * alpha[..., None]) / (255 * 9.0))
    assert np.array_equal(flat, expect.astype(np.uint8))


def test_pad_and_trim_reduce_to_the_same_blocks(cuppy):
    im, _sig = cuppy["01_Cuppy_smile"]
    canon = np.asarray(canonicalize(im))
    # the reduction grid is anchored at the moment square, which moves by whole pixels
    assert np.array_equal(np.asarray(canonicalize(apply("pad_20", im))), canon)
    assert np.array_equal(np.asarray(canonicalize(apply("trim", im))), canon)
    assert canon[32, 34:36].tolist() == [[255, 255, 239], [234, 230, 211]]


def test_noise_blocks_at_full_resolution(cuppy):
    im, _sig = cuppy["01_Cuppy_smile"]
    blocks = noise_blocks(np.asarray(apply("noise_background", im, seed=0).convert("RGBA")), 4)
    drawing = np.asarray(im.getchannel("A").reduce(4)) > 32
    # noise blocks = the transparent area (0.495 of the 128x128 grid) and a thinner rim
    # than the pair-counting test had (0.015 of the grid)
    assert blocks.shape == (128, 128)
    assert round(float((blocks & ~drawing).mean()), 3) == 0.495 and round(float((blocks & drawing).mean()), 3) == 0.009
    assert noise_blocks(np.asarray(apply("flatten_white", im).convert("RGBA")), 4) is None  # flat border


def test_thin_drawing_with_a_hole_on_noise():
    # 3.7 % of the frame is drawing: a 4-px line and a ring whose hole was transparent.
    # The pair-counting test took the line's rim blocks for noise and called the frame a
    # photo (background >= 95 %): 96 bits. Per-pixel noise, enclosed noise as background: 6.
    im = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.line((30, 270, 250, 40), fill=(120, 70, 30, 255), width=4)
    d.ellipse((200, 20, 280, 100), outline=(60, 60, 60, 255), width=10)
    noisy = apply("noise_background", im, seed=5)
    drawn = np.asarray(im.getchannel("A")) > 32
    blocks = noise_blocks(np.asarray(noisy.convert("RGBA")), 1)
    assert blocks.shape == (300, 300) and int((blocks & drawn).sum()) == 6 and int((~blocks & ~drawn).sum()) == 390
    assert hamming(hash_image(canonicalize(im))[0], hash_image(canonicalize(noisy))[0]) == 6


def test_cropped_variants_only_when_a_crop_cuts_drawing():
    def disc(box):
        im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        d.ellipse(box, fill=(200, 40, 40, 255), outline=(20, 20, 20, 255), width=3)
        d.rectangle((box[0] + 10, box[1] + 10, box[0] + 25, box[1] + 20), fill=(30, 30, 200, 255))
        return im

    # drawn pixels 20 px from every edge: a 3, 6 or 9 % crop cuts nothing, so only the
    # white and black flattenings are variants
    assert len(canonical_variants(disc((20, 20, 70, 70)))) == 2
    # touching the left edge: each crop cuts drawing, 3 cropped variants follow the 2
    edge = disc((0, 10, 75, 85))
    variants = canonical_variants(edge)
    assert len(variants) == 5
    cropped = [np.asarray(canonicalize(edge.crop((c, c, 100 - c, 100 - c)))) for c in (3, 6, 9)]
    assert all(np.array_equal(np.asarray(v), c) for v, c in zip(variants[2:], cropped))


def test_cuppy_smile_canonical_literals(cuppy):
    _im, sig = cuppy["01_Cuppy_smile"]
    assert sig.canonical_pdq == "3e17c1d6dd5b276b426ed5ba3f317e87c1f8c81a36062049c891ffa537eb0012"
    assert sig.canonical_quality == 100


# transform -> sticker -> (plain PDQ distance, canonical-only, canonical-or-variant); bits.
EXPECTED = {
    "01_Cuppy_smile": {
        "identity": (0, 0, 0), "webp_q50": (4, 0, 0), "resize_256": (10, 2, 0), "resize_128": (6, 10, 8),
        "mirror": (12, 0, 0), "rotate_90": (12, 2, 2), "flatten_white": (82, 2, 0), "flatten_black": (0, 4, 0),
        "flatten_random": (46, 0, 0), "alpha_reflatten": (46, 0, 0), "noise_background": (24, 2, 2),
        "jpeg_q70_white": (80, 2, 0), "shrink_70": (126, 0, 0), "pad_20": (124, 0, 0), "trim": (104, 0, 0),
        "crop_5": (114, 30, 14), "emoji_overlay": (34, 94, 94), "text_overlay": (10, 82, 78),
    },
    "08_Cuppy_lovewithmug": {
        "identity": (0, 0, 0), "webp_q50": (22, 0, 0), "resize_256": (18, 4, 4), "resize_128": (24, 10, 10),
        "mirror": (14, 0, 0), "rotate_90": (14, 0, 0), "flatten_white": (100, 40, 0), "flatten_black": (4, 138, 0),
        "flatten_random": (84, 4, 4), "alpha_reflatten": (86, 0, 0), "noise_background": (56, 2, 2),
        "jpeg_q70_white": (100, 40, 0), "shrink_70": (138, 2, 2), "pad_20": (134, 0, 0), "trim": (54, 0, 0),
        "crop_5": (92, 26, 12), "emoji_overlay": (36, 28, 28), "text_overlay": (18, 34, 34),
    },
    "15_Cuppy_bluescreen": {
        "identity": (0, 0, 0), "webp_q50": (4, 0, 0), "resize_256": (6, 10, 2), "resize_128": (6, 24, 16),
        "mirror": (16, 0, 0), "rotate_90": (16, 0, 0), "flatten_white": (110, 6, 2), "flatten_black": (2, 30, 0),
        "flatten_random": (76, 12, 8), "alpha_reflatten": (92, 0, 0), "noise_background": (46, 28, 6),
        "jpeg_q70_white": (110, 8, 2), "shrink_70": (132, 2, 2), "pad_20": (130, 0, 0), "trim": (88, 0, 0),
        "crop_5": (112, 14, 8), "emoji_overlay": (34, 96, 88), "text_overlay": (22, 60, 56),
    },
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_transform_distances_exact(cuppy, name):
    im, sig = cuppy[name]
    got = {}
    for t in TRANSFORMS:
        query = apply(t, im, seed=0)
        plain = hash_image(query)[0]
        plain_set = sig.pdq_dihedral if t in DIHEDRAL_TRANSFORMS else sig.pdq_dihedral[:1]
        got[t] = (min(hamming(plain, h) for h in plain_set), *bank_distance(query, sig, t))
    assert got == EXPECTED[name]


# (median, max) over the 25 Cuppy stickers of the canonical-or-variant distance, bits.
PACK_GOAL = {
    "webp_q50": (2, 2), "resize_256": (2, 6), "resize_128": (14, 30), "mirror": (0, 0), "rotate_90": (0, 2),
    "flatten_white": (0, 2), "flatten_black": (0, 2), "flatten_random": (2, 20), "alpha_reflatten": (0, 0),
    "noise_background": (2, 18), "jpeg_q70_white": (2, 4), "shrink_70": (2, 6), "pad_20": (0, 0), "trim": (0, 0),
    "crop_5": (10, 18), "emoji_overlay": (56, 100), "text_overlay": (30, 90),
}


@pytest.mark.slow
def test_whole_pack_distances(cuppy):
    got = {}
    for t in PACK_GOAL:
        dist = [bank_distance(apply(t, im, seed=0), sig, t)[1] for im, sig in cuppy.values()]
        got[t] = (statistics.median(dist), max(dist))
    assert got == PACK_GOAL
    # every transform but the overlays stays within 31 bits (the canonical form itself;
    # the occluded forms cover the overlays, tests/test_occlusion.py)
    assert sorted(t for t, (_med, mx) in got.items() if mx > 31) == ["emoji_overlay", "text_overlay"]


def test_different_stickers_stay_far_apart(cuppy):
    sigs = [s for _im, s in cuppy.values()]
    cross = min(
        hamming(a.canonical_pdq, h)
        for i, a in enumerate(sigs)
        for j, b in enumerate(sigs)
        if i != j
        for h in (*b.canonical_dihedral, *b.canonical_variants)
    )
    assert cross == 70


def test_other_packs_stay_far_from_cuppy(cuppy):
    bank = [h for _im, s in cuppy.values() for h in (*s.canonical_dihedral, *s.canonical_variants)]
    others = sorted((DATA / "whatsapp-sample-packs" / "2").glob("*.webp")) + sorted((DATA / "telegram-tgs").glob("*.tgs"))
    nearest = min(
        hamming(f.canonical_pdq, h)
        for path in others
        for f in hash_file(path).frames
        if f.canonical_pdq
        for h in bank
    )
    assert nearest == 80


def test_transforms_module():
    assert random_colour(0) == (197, 215, 20)
    im = Image.open(CUPPY_FILES[0])
    assert apply("pad_20", im).size == (716, 716)
    assert apply("trim", im).size == apply("trim", apply("pad_20", im)).size
    assert apply("shrink_70", im).size == (512, 512)
    assert apply("flatten_black", im).mode == "RGB"
    data, ext = apply_bytes("jpeg_q70_white", im)
    assert ext == "jpeg" and data[:3] == b"\xff\xd8\xff"
    data, ext = apply_bytes("webp_q50", im)
    assert ext == "webp" and data[8:12] == b"WEBP"
    data, ext = apply_bytes("mirror", im)
    assert ext == "png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError, match="unknown transform 'blur'; known: identity, webp_q50"):
        apply("blur", im)


def test_new_transforms_exact():
    im = Image.open(CUPPY_FILES[0]).convert("RGBA")
    assert apply("resize_128", im).size == (128, 128)
    re = np.asarray(apply("alpha_reflatten", im, seed=3))
    src = np.asarray(im)
    hidden = src[..., 3] == 0
    assert (re[..., 3] == src[..., 3]).all() and (re[~hidden] == src[~hidden]).all()
    assert {tuple(v) for v in re[hidden][:, :3]} == {random_colour(3)}
    noisy = apply("noise_background", im, seed=1)
    assert noisy.mode == "RGB" and np.array_equal(np.asarray(noisy), np.asarray(apply("noise_background", im, seed=1)))
    assert noisy.getpixel((0, 0)) == (255, 228, 34)
    # emoji: 128 px smiley, 20 px in from the corner picked by the seed (0: 3 = bottom-left)
    em = np.asarray(apply("emoji_overlay", im, seed=0))
    assert tuple(em[20 + 364 + 64, 20 + 64]) == (255, 204, 51, 255)
    assert np.array_equal(np.asarray(apply("text_overlay", im, seed=0))[:400], src[:400])  # caption only at the bottom


def test_animation_transforms():
    from stickerguard.media import decode
    from stickerguard.transforms import ANIMATION_TRANSFORMS, apply_animation

    data = (DATA / "whatsapp-sample-packs" / "2" / "01_SendingLove.webp").read_bytes()
    src = decode(data)
    assert list(ANIMATION_TRANSFORMS) == ["anim_reencode", "frame_drop", "speed_2x"]
    out = {n: decode(apply_animation(n, data)) for n in ANIMATION_TRANSFORMS}
    assert (src.frame_count, src.duration_ms) == (20, 1600)
    assert {n: (d.frame_count, d.duration_ms) for n, d in out.items()} == {
        "anim_reencode": (20, 1600), "frame_drop": (14, 1600), "speed_2x": (20, 800)}
    with pytest.raises(KeyError, match="unknown animation transform 'reverse'; known: anim_reencode"):
        apply_animation("reverse", data)


def test_light_drawing_is_painted_on_black(cuppy):
    """A white drawing (Cuppy's alpha, every pixel white) gets a black background, in its
    transparent form and once flattened onto black; on white it would be blank."""
    from stickerguard.signals.canonical import LIGHT_BACKGROUND, paint_colour

    rgba = np.asarray(cuppy["01_Cuppy_smile"][0]).copy()
    rgba[..., :3] = 255
    white = Image.fromarray(rgba, "RGBA")
    canon = canonicalize(white)
    assert canon.getpixel((0, 0)) == LIGHT_BACKGROUND and canon.getpixel((32, 32)) == (255, 255, 255)
    plain, q = hash_image(canon)
    assert q == 100
    flat, _ = hash_image(canonicalize(TRANSFORMS["flatten_black"](white)))
    assert hamming(plain, flat) == 10  # within the threshold (31); blank on white before
    assert paint_colour((255, 204, 51)) == (255, 255, 255)  # a yellow smiley (luma 202) stays on white
    assert paint_colour((240, 240, 230)) == LIGHT_BACKGROUND


def test_mean_colour_kernels_equal_numpy():
    from stickerguard.signals.canonkern import mean_colour

    rng = np.random.default_rng(5)
    colour = rng.integers(0, 255 * 255 * 16, (37, 41, 3), dtype=np.int64)
    alpha = rng.integers(0, 255 * 16, (37, 41), dtype=np.int64)
    assert mean_colour(colour, alpha, True).tolist() == (colour.sum(axis=(0, 1)) / alpha.sum()).tolist()
    assert mean_colour(colour, np.zeros_like(alpha), True).tolist() == [0.0, 0.0, 0.0]
    rgb = rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)
    mask = rng.random((30, 20)) > 0.6
    assert mean_colour(rgb, mask, False).tolist() == rgb[mask].mean(axis=0).tolist()
    assert mean_colour(rgb, np.zeros_like(mask), False).tolist() == [0.0, 0.0, 0.0]
