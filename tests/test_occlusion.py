"""Occluded canonical forms (signals.occlusion): regions, erased blocks, real overlays."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from stickerguard.signals import REGIONS, hamming, hash_bytes, hash_file
from stickerguard.signals.occlusion import occluded_forms, region_blocks, region_boxes
from stickerguard.transforms import apply_bytes

CUPPY = Path(__file__).parent / "data" / "whatsapp-sample-packs" / "1"


def test_region_boxes_and_blocks():
    assert region_boxes(512, 512) == {
        "top_left": (0, 0, 164, 164), "top_right": (348, 0, 512, 164),
        "bottom_right": (348, 348, 512, 512), "bottom_left": (0, 348, 164, 512),
        "bottom": (0, 399, 512, 512), "top": (0, 0, 512, 113)}
    # corners from the shorter side, bands from the height
    assert region_boxes(400, 300)["bottom_right"] == (304, 204, 400, 300)
    assert region_boxes(400, 300)["bottom"] == (0, 234, 400, 300)
    assert tuple(region_boxes(10, 10)) == REGIONS
    # grid origin (-3, -5), 8 px blocks: block 0 starts left of / above the box, so it is kept
    assert region_blocks((0, 0, 164, 164), -3, -5, 8, (65, 65)) == (slice(1, 22), slice(1, 21))
    assert region_blocks((348, 348, 512, 512), 0, 0, 8, (64, 64)) == (slice(44, 64), slice(44, 64))


def _query(name: str, transform: str):
    with Image.open(CUPPY / name) as im:
        data, ext = apply_bytes(transform, im)
    return hash_bytes(data, name=f"q.{ext}", variants=False).frames[0]


def test_emoji_in_a_corner_is_undone_by_erasing_that_corner():
    bank = hash_file(CUPPY / "01_Cuppy_smile.webp").frames[0]
    assert [o[0] for o in bank.canonical_occluded] == list(REGIONS)  # bank side: every region
    query = _query("01_Cuppy_smile.webp", "emoji_overlay")  # smiley bottom-left (seed 0)
    assert hamming(query.canonical_pdq, bank.canonical_pdq) == 94
    by_region = {r: h for r, h, _q, _s in bank.canonical_occluded}
    got = {r: (hamming(h, by_region[r]), q, round(s, 4)) for r, h, q, s in query.canonical_occluded}
    # query side: regions holding > 3 % of the drawing (bottom_right holds less: skipped)
    assert got == {"top_left": (98, 100, 0.0562), "top_right": (102, 100, 0.0342),
                   "bottom_left": (4, 100, 0.1092), "bottom": (36, 100, 0.1139), "top": (94, 100, 0.0352)}


def test_caption_is_undone_by_erasing_the_bottom_band():
    bank = hash_file(CUPPY / "09_Cuppy_lovewithcookie.webp").frames[0]
    query = _query("09_Cuppy_lovewithcookie.webp", "text_overlay")
    assert hamming(query.canonical_pdq, bank.canonical_pdq) == 64
    by_region = {r: h for r, h, _q, _s in bank.canonical_occluded}
    dist = {r: hamming(h, by_region[r]) for r, h, _q, _s in query.canonical_occluded}
    assert dist == {"top_left": 70, "top_right": 76, "bottom_left": 88, "bottom": 2, "top": 70}


def test_no_forms_for_empty_opaque_or_mostly_erased_frames():
    assert occluded_forms(Image.new("RGBA", (100, 100), (0, 0, 0, 0))) == []
    assert occluded_forms(Image.new("RGB", (100, 100), (9, 9, 9))) == []
    assert occluded_forms(Image.new("RGBA", (0, 5))) == []
    dot = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    dot.paste((200, 0, 0, 255), (5, 5, 20, 20))  # all of the drawing in the top-left corner
    forms = occluded_forms(dot, min_share=-1.0)
    # top_left and top hold all of it (nothing would be left): skipped; the rest erase nothing
    assert [(o.region, o.share) for o in forms] == [("top_right", 0.0), ("bottom_right", 0.0),
                                                     ("bottom_left", 0.0), ("bottom", 0.0)]
    assert all(o.image.size == (64, 64) and o.image.mode == "RGB" for o in forms)


def test_animations_get_no_occluded_forms():
    sig = hash_file(CUPPY.parent / "2" / "01_SendingLove.webp")
    assert sig.animated and all(f.canonical_occluded == () for f in sig.frames)
