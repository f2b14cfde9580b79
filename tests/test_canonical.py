"""Sticker canonical form: empty frames, background handling, robustness on the Cuppy pack."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stickerguard.signals import canonical_variants, canonicalize, hamming, hash_file, hash_image
from stickerguard.signals.canonical import CANONICAL_SIZE, background_colour, has_transparency
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
    # a dark 40x20 bar on light grey: background found, bar trimmed, centred on white
    im = Image.new("RGB", (200, 100), (230, 230, 230))
    im.paste((10, 10, 10), (20, 30, 60, 50))
    out = np.asarray(canonicalize(im))
    assert out.shape == (CANONICAL_SIZE, CANONICAL_SIZE, 3)
    assert out[32, :].max() == 10 and out[0, :].min() == 255 and out[-1, :].min() == 255
    assert (out[:, 5, 0] <= 10).sum() == 30  # the bar fills the middle half (32 rows, 2 blurred)
    assert background_colour(np.asarray(im)) == (230, 230, 230)
    noise = np.random.default_rng(7).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    assert background_colour(noise) is None
    assert np.asarray(canonicalize(Image.fromarray(noise))).shape == (64, 64, 3)  # whole frame kept


def test_cuppy_smile_canonical_literals(cuppy):
    _im, sig = cuppy["01_Cuppy_smile"]
    assert sig.canonical_pdq == "81a6ba934e03845ea1fe5b71fc0daded83f8d6165c4e40919121efe96fdb1016"
    assert sig.canonical_quality == 100


# transform -> sticker -> (plain PDQ distance, canonical-only, canonical-or-variant); bits.
EXPECTED = {
    "01_Cuppy_smile": {
        "identity": (0, 0, 0), "webp_q50": (4, 0, 0), "resize_256": (10, 2, 0),
        "mirror": (12, 0, 0), "rotate_90": (12, 0, 0), "flatten_white": (82, 2, 0),
        "flatten_black": (0, 6, 0), "flatten_random": (46, 4, 2), "jpeg_q70_white": (80, 2, 0),
        "shrink_70": (126, 4, 4), "pad_20": (124, 0, 0), "trim": (104, 0, 0),
        "crop_5": (114, 74, 68),
    },
    "08_Cuppy_lovewithmug": {
        "identity": (0, 0, 0), "webp_q50": (22, 0, 0), "resize_256": (18, 4, 4),
        "mirror": (14, 0, 0), "rotate_90": (14, 0, 0), "flatten_white": (100, 28, 0),
        "flatten_black": (4, 96, 0), "flatten_random": (84, 6, 6), "jpeg_q70_white": (100, 28, 0),
        "shrink_70": (138, 0, 0), "pad_20": (134, 0, 0), "trim": (54, 0, 0), "crop_5": (92, 70, 50),
    },
    "15_Cuppy_bluescreen": {
        "identity": (0, 0, 0), "webp_q50": (4, 2, 2), "resize_256": (6, 6, 4), "mirror": (16, 0, 0),
        "rotate_90": (16, 2, 2), "flatten_white": (110, 8, 0), "flatten_black": (2, 38, 0),
        "flatten_random": (76, 12, 12), "jpeg_q70_white": (110, 8, 0), "shrink_70": (132, 10, 4),
        "pad_20": (130, 0, 0), "trim": (88, 0, 0), "crop_5": (112, 76, 70),
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
    "webp_q50": (0, 4), "resize_256": (0, 6), "mirror": (0, 6), "flatten_white": (0, 2),
    "flatten_black": (0, 4), "flatten_random": (4, 18), "jpeg_q70_white": (0, 4),
    "shrink_70": (4, 6), "pad_20": (0, 0), "trim": (0, 0),
}


def test_whole_pack_stays_within_threshold(cuppy):
    got = {}
    for t in PACK_GOAL:
        dist = [bank_distance(apply(t, im, seed=0), sig, t)[1] for im, sig in cuppy.values()]
        got[t] = (statistics.median(dist), max(dist))
    assert got == PACK_GOAL
    assert max(m for _med, m in got.values()) <= 31


def test_different_stickers_stay_far_apart(cuppy):
    sigs = [s for _im, s in cuppy.values()]
    cross = min(
        hamming(a.canonical_pdq, h)
        for i, a in enumerate(sigs)
        for j, b in enumerate(sigs)
        if i != j
        for h in (*b.canonical_dihedral, *b.canonical_variants)
    )
    assert cross == 76


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
    assert nearest == 90


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
