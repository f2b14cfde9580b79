"""Detection benchmark: artwork grouping, frame-rule distance, precision metric, quick run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import detect_bench, detect_metrics, detect_report


def test_artwork_groups_by_name():
    a = detect_bench.artwork
    assert a("openmoji/1F3C3-1F3FB-200D-2640-FE0F") == a("openmoji/1F3C3-200D-2642-FE0F-200D-27A1") == "openmoji/1F3C3"
    assert a("openmoji/1F468-200D-1F373") == a("openmoji/1F469-1F3FD-200D-1F373") == "openmoji/1F9D1-1F373"
    assert a("noto-emoji/u1F385_1F3FB") == a("noto-emoji/u1F385") == "noto-emoji/1F385"
    assert a("openmoji/1F385") != a("noto-emoji/u1F385")  # two different drawings
    assert a("openclipart/science/flask_matthew__02.png") == "openclipart/science/flask_matthew"
    # the star-polygon generator's renders are one artwork; other stars are not in it
    assert a("openclipart/shapes/stars/star_85pt14step.png") == a("openclipart/shapes/stars/star_05pt02step.png") \
        == "openclipart/shapes/stars/star_#pt#step"
    assert a("openclipart/shapes/stars/star.png") == "openclipart/shapes/stars/star"
    assert a("wallpapers/mate/abstract/Elephants_3840x2160.jpg") == a("wallpapers/mate/abstract/Elephants_5640x3172.jpg")
    assert a("wallpapers/gnome/wood-d.webp") == a("wallpapers/gnome/wood-l.webp") == "wallpapers/gnome/wood"
    assert a("packs/whatsapp/1/12_Cuppy_angry.webp") == a("packs/whatsapp/1/16_Cuppy_angry.webp")


def test_select_one_item_per_group_and_animation_quota():
    items = [{"id": f"openclipart/x/a_{i:02d}.png", "animated": False, "source": "openclipart"} for i in range(5)]
    items += [{"id": f"openclipart/y{i}.png", "animated": False, "source": "openclipart"} for i in range(40)]
    items += [{"id": f"packs/telegram/t{i}.tgs", "animated": True, "source": "sticker-packs"} for i in range(3)]
    known, dis = detect_bench.select(items, 31, None, seed=0)
    groups = [detect_bench.artwork(k["id"]) for k in known]
    assert len(known) == 31 and len(set(groups)) == 31 and sum(k["animated"] for k in known) == 1
    assert not {detect_bench.artwork(d["id"]) for d in dis} & set(groups)
    assert len(dis) == 48 - 31 - (4 if "openclipart/x/a" in groups else 0)


def test_flat_images_are_not_drawn_as_known(tmp_path):
    from PIL import Image

    dithered = np.full((16, 16, 4), (37, 31, 47, 255), np.uint8)
    dithered[::2, :, 2] = 51  # 5 levels of blue: a wallpaper of one colour (GNOME vnc-d)
    Image.fromarray(dithered, "RGBA").save(tmp_path / "flat.png")
    dot = np.zeros((16, 16, 4), np.uint8)  # one visible colour on transparency is flat too
    dot[4:8, 4:8] = (200, 10, 10, 255)
    Image.fromarray(dot, "RGBA").save(tmp_path / "dot.png")
    dot[4:8, 6:8] = (0, 0, 0, 255)
    Image.fromarray(dot, "RGBA").save(tmp_path / "two.png")
    assert [detect_bench.flat(str(tmp_path / n)) for n in ("flat.png", "dot.png", "two.png")] == [True, True, False]
    items = [{"id": f"openclipart/y{i}.png", "animated": False, "source": "openclipart"} for i in range(40)]
    items += [{"id": "packs/telegram/t.tgs", "animated": True, "source": "sticker-packs"}]
    plain, _ = detect_bench.select(items, 10, None, seed=0)
    skip = plain[3]["id"]
    known, dis = detect_bench.select(items, 10, None, seed=0, bankable=lambda it: it["id"] != skip)
    # the flat candidate is passed over (it stays a distractor); the others are kept in order
    assert [k["id"] for k in known][:9] == [k["id"] for k in plain if k["id"] != skip][:9]
    assert skip not in {k["id"] for k in known} and skip in {d["id"] for d in dis}


def test_frame_rule_distance():
    # 5 query frames x 5 bank frames; the rule needs 4 of 5 on both sides
    per_frame = np.array([[3, 90, 90, 90, 90], [90, 5, 90, 90, 90], [90, 90, 7, 90, 90],
                          [90, 90, 90, 40, 90], [90, 90, 90, 90, 11]])
    assert detect_metrics._frame_rule(per_frame, np.arange(5)) == 11
    # two bank signals of one frame: the nearer one counts
    assert detect_metrics._frame_rule(per_frame[:, [0, 0, 1, 2, 4]], np.array([0, 0, 1, 2, 4])) == 11


def test_recall_at_precision():
    own = np.array([0, 2, 5, 40])
    false_hist = np.zeros(detect_metrics.NEVER + 1, np.int64)
    false_hist[6] = 1  # one false pair at 6 bits: precision 3/4 there
    assert detect_report._recall_at_precision(own, false_hist) == (0.75, 5)
    assert detect_report._recall_at_precision(own, np.zeros_like(false_hist)) == (1.0, 256)


@pytest.mark.slow
def test_quick_run_writes_report(tmp_path):
    assert detect_bench.main(["--quick", "--corpus", "tests", "--known", "4", "--distractors", "6",
                              "--workers", "2", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "detect.json").read_text())
    run, m = data["run"], data["metrics"]
    assert (run["known"], run["known_animated"], run["distractors"]) == (4, 1, 6)
    assert run["disagreements"] == {"hma": 0, "sg_plain": 0, "sg_canonical": 0}
    assert set(m) == {"hma", "sg_plain", "sg_canonical"}
    rows = m["sg_canonical"]["transforms"]
    assert set(rows) == {"identity", "anim_reencode", "frame_drop", "speed_2x", *detect_bench.TRANSFORMS}
    assert rows["identity"]["n"] == 4 and rows["mirror"]["n"] == 3
    assert set(rows["mirror"]) == {"n", "errors", "recall31", "recall_p9999", "t_p9999", "wrong_pairs31",
                                   "median_own", "min_false"}
    assert len(m["hma"]["true_hist"]) == detect_metrics.NEVER + 1
    md = (tmp_path / "detect.md").read_text()
    assert md.startswith("# Detection benchmark (quick)") and "| **overall** |" in md
    assert (tmp_path / "detect_hist.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "detect_recall.png").read_bytes()[:4] == b"\x89PNG"


def test_dedupe_drops_exact_pixel_copies_up_to_mirror(tmp_path):
    from PIL import Image

    from benchmarks import distractors

    rng = np.random.default_rng(5)
    px = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    px[:5, :, 3] = 0  # a transparent band
    a = Image.fromarray(px, "RGBA")
    hidden = px.copy()
    hidden[:5, :, :3] = 7  # other colour under the transparent pixels: the same visible image
    other = px.copy()
    other[10, 10, 0] ^= 1  # one visible pixel differs
    files = {"x/b_copy": Image.fromarray(hidden, "RGBA"), "x/a": a,
             "x/c_mirror": a.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
             "x/d_rot": a.transpose(Image.Transpose.ROTATE_90), "x/e_other": Image.fromarray(other, "RGBA")}
    items = []
    for ident, im in files.items():
        path = tmp_path / f"{ident.replace('/', '_')}.png"
        im.save(path)
        items.append({"id": ident, "path": str(path), "animated": False, "source": "x"})
    items.append({"id": "x/anim", "path": str(tmp_path / "missing.webp"), "animated": True, "source": "x"})
    assert distractors.pixel_key(items[0]["path"]) == distractors.pixel_key(items[1]["path"])
    kept, dropped = distractors.dedupe(items, tmp_path / "cache", workers=1, log=lambda _m: None)
    assert [it["id"] for it in kept] == ["x/a", "x/e_other", "x/anim"]
    assert dropped == [("x/b_copy", "x/a"), ("x/c_mirror", "x/a"), ("x/d_rot", "x/a")]
    assert (tmp_path / "cache" / "corpus" / "pixel_keys.json").exists()
