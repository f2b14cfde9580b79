"""Matcher: exact, perceptual, dihedral, canonical, animation rule, bank filters.

Hashes are random 256-bit values from a seeded generator with exactly k bits flipped,
so every expected distance is known; unrelated random hashes are ~128 bits apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stickerguard.errors import BankError
from stickerguard.match import DIHEDRAL_NAMES, BankSignalRow, FramesMatched, Match, Matcher
from stickerguard.signals.types import FrameSignals, MediaSignals

MD5 = "0123456789abcdef0123456789abcdef"
SHA = "ab" * 32


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def rand(rng) -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def flip(h: str, k: int, rng) -> str:
    n = int(h, 16)
    for bit in rng.choice(256, size=k, replace=False):
        n ^= 1 << int(bit)
    return f"{n:064x}"


_ids = iter(range(1, 10_000))
_bank_ids: dict[str, int] = {}


def row(value, *, signal_type="pdq", bank="b1", threshold=31, content_id=1,
        frame_count=1, frame_index=0, quality=None, labels=("csam",), content_labels=(),
        enabled=True, name="s.webp", pack="pack-a") -> BankSignalRow:
    return BankSignalRow(
        signal_id=next(_ids), bank_id=_bank_ids.setdefault(bank, len(_bank_ids) + 1),
        bank_name=bank, bank_threshold=threshold, bank_labels=list(labels),
        content_id=content_id, content_name=name, content_pack=pack,
        content_labels=list(content_labels), content_frame_count=frame_count,
        animated=frame_count > 1, signal_type=signal_type, value=value,
        frame_index=frame_index, quality=quality, bank_enabled=enabled)


def frame(pdq, *, index=0, quality=90, canonical=None, cq=0, dihedral=(), cdihedral=()):
    return FrameSignals(index=index, timestamp_ms=index * 100.0, pdq=pdq, quality=quality,
                        canonical_pdq=canonical, canonical_quality=cq,
                        pdq_dihedral=tuple(dihedral), canonical_dihedral=tuple(cdihedral))


def media(*frames, md5=MD5, sha256=SHA) -> MediaSignals:
    return MediaSignals(md5=md5, sha256=sha256, format="webp", width=512, height=512,
                        animated=len(frames) > 1, frame_count=len(frames),
                        duration_ms=100.0 * (len(frames) - 1), frames=list(frames))


def test_threshold_inclusive_31_vs_32(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h)])
    hit = m.match(media(frame(flip(h, 31, rng))))
    assert [(x.distance, x.threshold, x.signal_type, x.query_signal) for x in hit] == [
        (31, 31, "pdq", "pdq")]
    assert m.match(media(frame(flip(h, 32, rng)))) == []


def test_match_fields_and_json(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h, labels=("csam", "A1"), content_labels=("A1", "tg"),
                               content_id=42, name="cat.webp", pack="cats")])
    q = flip(h, 3, rng)
    [hit] = m.match(media(frame(q, index=0)))
    assert hit == Match(bank="b1", bank_labels=("csam", "A1"), content_id=42,
                        content_name="cat.webp", content_pack="cats",
                        labels=("csam", "A1", "tg"), signal_type="pdq", query_signal="pdq",
                        distance=3, threshold=31, value=h, query_frame=0,
                        transform="identity", frames_matched=FramesMatched(1, 1, 1, 1, 1))
    d = json.loads(json.dumps(hit.to_dict()))
    assert d["labels"] == ["csam", "A1", "tg"]
    assert d["frames_matched"] == {"query_matched": 1, "query_total": 1,
                                   "bank_matched": 1, "bank_total": 1, "bank_covered": 1}


def test_per_bank_threshold(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h, bank="strict", threshold=10),
                           row(h, bank="loose", threshold=31, content_id=2)])
    q = flip(h, 20, rng)
    assert [(x.bank, x.distance, x.threshold) for x in m.match(media(frame(q)))] == [
        ("loose", 20, 31)]
    q10 = flip(h, 10, rng)
    assert [(x.bank, x.distance) for x in m.match(media(frame(q10)))] == [
        ("loose", 10), ("strict", 10)]


def test_dihedral_variant_reported(rng):
    h = rand(rng)
    variants = [rand(rng) for _ in range(8)]
    variants[3] = flip(h, 2, rng)
    m = Matcher.from_rows([row(h)])
    [hit] = m.match(media(frame(variants[0], dihedral=variants)))
    assert (hit.distance, hit.transform, hit.query_signal) == (2, DIHEDRAL_NAMES[3], "pdq")
    assert len(set(DIHEDRAL_NAMES)) == 8 and DIHEDRAL_NAMES[0] == "identity"


def test_tie_prefers_identity_then_lower_distance(rng):
    h = rand(rng)
    variants = [rand(rng) for _ in range(8)]
    variants[0] = variants[5] = flip(h, 4, rng)  # symmetric image: same hash twice
    variants[6] = flip(h, 1, rng)
    m = Matcher.from_rows([row(h)])
    [hit] = m.match(media(frame(variants[0], dihedral=variants)))
    assert (hit.distance, hit.transform) == (1, DIHEDRAL_NAMES[6])
    variants[6] = rand(rng)
    [hit] = m.match(media(frame(variants[0], dihedral=variants)))
    assert (hit.distance, hit.transform) == (4, "identity")


def test_exact_md5_and_sha256(rng):
    m = Matcher.from_rows([row(MD5, signal_type="md5", content_id=1),
                           row(SHA, signal_type="sha256", content_id=2, bank="b2"),
                           row("f" * 32, signal_type="md5", content_id=3)])
    hits = m.match(media(frame(rand(rng))))
    assert [(x.bank, x.content_id, x.signal_type, x.query_signal, x.distance, x.threshold,
             x.query_frame, x.transform) for x in hits] == [
        ("b1", 1, "md5", "md5", 0, 0, None, "identity"),
        ("b2", 2, "sha256", "sha256", 0, 0, None, "identity")]
    assert m.match(media(frame(rand(rng)), md5="e" * 32, sha256="e" * 64)) == []


def test_exact_beats_perceptual_on_same_content(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h, content_id=9), row(MD5, signal_type="md5", content_id=9)])
    [hit] = m.match(media(frame(h)))  # distance 0 both ways: exact wins the tie
    assert (hit.signal_type, hit.distance, hit.frames_matched) == ("md5", 0, (1, 1, 1, 1, 1))


def test_canonical_matching_rules(rng):
    sticker = rand(rng)   # bank canonical (sticker_pdq) hash
    plain = rand(rng)     # bank plain hash of another item
    m = Matcher.from_rows([row(sticker, signal_type="sticker_pdq", content_id=1),
                           row(plain, signal_type="pdq", content_id=2)])
    # canonical query vs bank sticker_pdq
    [hit] = m.match(media(frame(rand(rng), canonical=flip(sticker, 5, rng), cq=80)))
    assert (hit.content_id, hit.signal_type, hit.query_signal, hit.distance) == (
        1, "sticker_pdq", "sticker_pdq", 5)
    # canonical query vs bank plain pdq (hash lists only carry plain PDQ)
    [hit] = m.match(media(frame(rand(rng), canonical=flip(plain, 6, rng), cq=80)))
    assert (hit.content_id, hit.signal_type, hit.query_signal, hit.distance) == (
        2, "pdq", "sticker_pdq", 6)
    # plain query vs bank sticker_pdq is deliberately not compared
    assert m.match(media(frame(flip(sticker, 1, rng)))) == []


def test_plain_preferred_over_canonical_at_equal_distance(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h)])
    [hit] = m.match(media(frame(h, canonical=h, cq=90)))
    assert hit.query_signal == "pdq"


def _animated_bank(rng, n=5):
    frames = [rand(rng) for _ in range(n)]
    rows = [row(f, content_id=7, frame_count=n, frame_index=i, quality=90)
            for i, f in enumerate(frames)]
    return frames, Matcher.from_rows(rows)


def test_animation_four_of_five_frames_match(rng):
    bank, m = _animated_bank(rng)
    q = [frame(flip(bank[i], 5 + i, rng), index=i * 2) for i in range(4)]
    q.append(frame(rand(rng), index=8))
    [hit] = m.match(media(*q))
    assert hit.frames_matched == FramesMatched(4, 5, 4, 5, 4)
    assert (hit.distance, hit.query_frame) == (5, 0)


def test_covered_counts_short_gaps_between_matches_only():
    from stickerguard.match.matcher import covered

    frames = [0, 3, 4, 7, 9, 12, 15, 18]
    assert covered(frames, {0, 4, 9, 18}) == 4 + 1 + 1 + 2  # gaps: frame 3, frame 7, frames 12 and 15
    assert covered(frames, {0, 4, 9, 15}) == 4 + 1 + 1 + 1  # gaps 3, 7, 12; 18 is past the last match
    assert covered(frames, {0, 18}) == 2                    # a gap of 6 counts nothing
    assert covered(frames, {0, 3, 4}) == 3                  # a prefix covers only itself
    assert covered(frames, set()) == 0 and covered([], {1}) == 0
    assert covered(frames, {0, 9}, max_gap=3) == 5


def test_animation_three_of_five_frames_fail(rng):
    bank, m = _animated_bank(rng)
    q = [frame(flip(bank[i], 5, rng), index=i) for i in range(3)]
    q += [frame(rand(rng), index=3), frame(rand(rng), index=4)]
    assert m.match(media(*q)) == []


def test_animation_query_side_ratio_fails(rng):
    bank, m = _animated_bank(rng)
    # all 5 bank frames found, but only in 5 of the query's 10 frames
    q = [frame(flip(bank[i], 2, rng), index=i) for i in range(5)]
    q += [frame(rand(rng), index=5 + i) for i in range(5)]
    assert m.match(media(*q)) == []
    lenient = Matcher.from_rows(
        [row(b, content_id=7, frame_count=5, frame_index=i) for i, b in enumerate(bank)],
        frame_match_ratio=0.5)
    [hit] = lenient.match(media(*q))
    assert hit.frames_matched == FramesMatched(5, 10, 5, 5, 5)


def test_static_bank_item_matched_by_one_animation_frame(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h)])
    q = [frame(rand(rng), index=0), frame(flip(h, 9, rng), index=1),
         frame(flip(h, 4, rng), index=2), frame(rand(rng), index=3)]
    [hit] = m.match(media(*q))
    assert (hit.distance, hit.query_frame, hit.frames_matched) == (4, 2, (2, 4, 1, 1, 1))


def test_disabled_and_filtered_banks(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h, bank="on", content_id=1),
                           row(h, bank="off", content_id=2, enabled=False),
                           row(h, bank="other", content_id=3, threshold=5)])
    assert m.banks == ["on", "other"]
    assert [x.bank for x in m.match(media(frame(h)))] == ["on", "other"]
    assert [x.bank for x in m.match(media(frame(h)), banks=["other"])] == ["other"]
    # radius comes from the banks in scope: 'other' alone (5 bits) misses a 20-bit copy
    assert m.match(media(frame(flip(h, 20, rng))), banks=["other"]) == []
    with pytest.raises(BankError, match=r"^bank 'off' is not loaded \(unknown, disabled or "
                                        r"without signals\); loaded: on, other$"):
        m.match(media(frame(h)), banks=["off"])


def test_low_quality_skipped_both_sides(rng):
    good, weak, unknown = rand(rng), rand(rng), rand(rng)
    m = Matcher.from_rows([row(good, content_id=1, quality=50),
                           row(weak, content_id=2, quality=49),
                           row(unknown, content_id=3, quality=None)])
    assert m.stats()["b1"]["skipped_low_quality"] == 1
    assert [x.content_id for x in m.match(media(frame(weak)))] == []
    assert [x.content_id for x in m.match(media(frame(unknown)))] == [3]
    assert [x.content_id for x in m.match(media(frame(good, quality=50)))] == [1]
    assert m.match(media(frame(good, quality=49))) == []
    assert [x.content_id for x in m.match(media(frame(good, quality=49, canonical=good, cq=50)))] == [1]
    relaxed = Matcher.from_rows([row(weak, quality=49)], min_quality=0)
    assert len(relaxed.match(media(frame(weak, quality=10)))) == 1


def test_sorted_by_distance_bank_content(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(flip(h, 7, rng), bank="a", content_id=5),
                           row(flip(h, 3, rng), bank="z", content_id=1),
                           row(flip(h, 7, rng), bank="a", content_id=2),
                           row(flip(h, 7, rng), bank="b", content_id=1)])
    assert [(x.distance, x.bank, x.content_id) for x in m.match(media(frame(h)))] == [
        (3, "z", 1), (7, "a", 2), (7, "a", 5), (7, "b", 1)]


def test_one_match_per_content(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(flip(h, 8, rng), content_id=1),
                           row(flip(h, 2, rng), content_id=1, signal_type="sticker_pdq"),
                           row(flip(h, 6, rng), content_id=1)])
    [hit] = m.match(media(frame(h, canonical=h, cq=70)))
    assert (hit.distance, hit.signal_type, hit.query_signal) == (2, "sticker_pdq", "sticker_pdq")


def test_match_hash(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h, content_id=1), row(h, signal_type="sticker_pdq", content_id=2),
                           row(MD5, signal_type="md5", content_id=3)])
    q = flip(h, 12, rng)
    assert [(x.content_id, x.distance, x.query_frame) for x in m.match_hash("pdq", q.upper())] == [
        (1, 12, None)]
    assert [x.content_id for x in m.match_hash("sticker_pdq", q)] == [1, 2]
    assert [x.content_id for x in m.match_hash("md5", MD5.upper())] == [3]
    assert m.match_hash("sha256", SHA) == []
    with pytest.raises(ValueError, match=r"^unknown signal type 'phash'; known: pdq, sticker_pdq, md5, sha256$"):
        m.match_hash("phash", h)
    with pytest.raises(ValueError, match=r"^not a 64-hex-digit pdq hash: 'abc'$"):
        m.match_hash("pdq", "abc")


def test_match_hash_ignores_animation_rule(rng):
    bank, m = _animated_bank(rng)
    [hit] = m.match_hash("pdq", bank[2])
    assert hit.frames_matched == FramesMatched(1, 1, 1, 5)


def test_stats(rng):
    m = Matcher.from_rows([row(rand(rng), content_id=1), row(rand(rng), content_id=1, frame_index=1),
                           row(MD5, signal_type="md5", content_id=2),
                           row(rand(rng), bank="b2", threshold=20, content_id=3, quality=10)])
    assert m.stats() == {
        "b1": {"threshold": 31, "contents": 2, "signals": {"md5": 1, "pdq": 2},
               "skipped_low_quality": 0},
        "b2": {"threshold": 20, "contents": 1, "signals": {}, "skipped_low_quality": 1},
    }
    assert len(m) == 3


def test_from_rows_rejects_bad_rows(rng):
    h = rand(rng)
    r = row(h)
    with pytest.raises(BankError, match=r"^signal \d+ \(bank 'b1'\): signal id given twice$"):
        Matcher.from_rows([r, r])
    with pytest.raises(BankError, match=r"unknown signal type 'phash'; known: pdq, sticker_pdq"):
        Matcher.from_rows([row(h, signal_type="phash")])
    with pytest.raises(BankError, match=r"not a 32-hex-digit md5 hash: 'xyz'$"):
        Matcher.from_rows([row("xyz", signal_type="md5")])
    with pytest.raises(BankError, match=r"bank threshold must be 0..256 bits, saw 300$"):
        Matcher.from_rows([row(h, threshold=300)])
    with pytest.raises(BankError, match=r"bank threshold 20 differs from 31"):
        Matcher.from_rows([row(h, content_id=1), row(h, content_id=2, threshold=20)])
    with pytest.raises(BankError, match=r"bank name 'b1' is used by two bank ids$"):
        Matcher.from_rows([row(h, content_id=1), row(h, content_id=2)._replace(bank_id=999)])
    with pytest.raises(BankError, match=r"bank id \d+ is also named 'b1'$"):
        Matcher.from_rows([row(h, content_id=1), row(h, content_id=2)._replace(bank_name="b9")])
    with pytest.raises(ValueError, match=r"^frame_match_ratio must be in \(0, 1\], saw 0$"):
        Matcher.from_rows([], frame_match_ratio=0)


def test_from_db_uses_banks_iter(monkeypatch, rng):
    import importlib

    banks_mod = importlib.import_module("stickerguard.banks")
    h = rand(rng)
    seen = {}

    def fake_iter(db, bank_names=None):
        seen["args"] = (db, bank_names)
        return iter([row(h)])

    monkeypatch.setattr(banks_mod, "iter_bank_signals", fake_iter, raising=False)
    m = Matcher.from_db("DB", ["b1"], min_quality=60)
    assert seen["args"] == ("DB", ["b1"])
    assert m.min_quality == 60 and len(m.match(media(frame(h)))) == 1


def test_empty_matcher(rng):
    m = Matcher.from_rows([])
    assert m.match(media(frame(rand(rng)))) == [] and m.stats() == {} and m.banks == []


def test_from_db_real_store(tmp_path, rng):
    """Contract with banks.iter_bank_signals: add_media rows load and match; disabled skipped."""
    from stickerguard.banks import add_media, create_bank, import_hash_list, update_bank
    from stickerguard.media.types import PackInfo, Sticker
    from stickerguard.store.db import open_db

    db = open_db(f"sqlite:///{tmp_path / 'banks.sqlite3'}")
    create_bank(db, "stickers", labels=["test", "A1"], threshold=20)
    create_bank(db, "list", threshold=31)
    create_bank(db, "off")
    frames = [rand(rng) for _ in range(5)]
    banked = media(*[frame(f, index=i * 3, quality=80) for i, f in enumerate(frames)],
                   md5="1" * 32, sha256="2" * 64)
    pack = PackInfo(kind="folder", identifier="pack-x")
    add_media(db, "stickers", [(Sticker(path="p/anim.webp", name="anim.webp", data=b"",
                                        pack=pack), banked)])
    listed = rand(rng)
    hl = tmp_path / "list.txt"
    hl.write_text(f"pdq {listed}\n")
    import_hash_list(db, "list", hl)
    add_media(db, "off", [(Sticker(path="q.webp", name="q.webp", data=b"", pack=pack),
                           media(frame(listed)))])
    update_bank(db, "off", enabled=False)

    m = Matcher.from_db(db)
    assert m.banks == ["list", "stickers"]
    assert m.stats()["stickers"] == {"threshold": 20, "contents": 1, "skipped_low_quality": 0,
                                     "signals": {"md5": 1, "pdq": 5, "sha256": 1}}
    q = [frame(flip(f, 4, rng), index=i) for i, f in enumerate(frames[:4])]
    q.append(frame(flip(listed, 25, rng), index=4))
    hits = m.match(media(*q))
    assert [(x.bank, x.content_name, x.content_pack, x.labels, x.distance, x.frames_matched)
            for x in hits] == [
        ("stickers", "anim.webp", "pack-x", ("test", "A1"), 4, (4, 5, 4, 5, 4)),
        ("list", "list.txt:1", None, (), 25, (1, 5, 1, 1, 1)),
    ]
    assert [x.bank for x in Matcher.from_db(db, ["list"]).match(media(*q))] == ["list"]


# --- end to end on real benign stickers (tests/data), hashed by stickerguard.signals ---

PACKS = str(Path(__file__).parent / "data" / "whatsapp-sample-packs") + "/"
CUPPY = ["01_Cuppy_smile.webp", "02_Cuppy_lol.webp", "03_Cuppy_rofl.webp"]
ANIM = "2/01_SendingLove.webp"


def rows_from_signals(sig: MediaSignals, content_id: int, name: str, first_id: int):
    """Bank rows for one hashed sticker, as a bank built from media would hold them:
    md5, sha256, per frame pdq + sticker_pdq + its flattened canonical variants + its
    occluded forms (region set)."""
    out = []

    def add(t, v, frame_index=0, quality=None, region=None):
        out.append(BankSignalRow(first_id + len(out), 1, "cuppy", 31, ("test",), content_id,
                                 name, "pack", (), len(sig.frames), sig.animated, t, v,
                                 frame_index, quality, region=region))

    add("md5", sig.md5)
    add("sha256", sig.sha256)
    for f in sig.frames:
        add("pdq", f.pdq, f.index, f.quality)
        for v in ((f.canonical_pdq,) if f.canonical_pdq else ()) + f.canonical_variants:
            add("sticker_pdq", v, f.index, f.canonical_quality)
        for region, v, q, _share in f.canonical_occluded:
            add("sticker_pdq", v, f.index, q, region)
    return out


@pytest.fixture(scope="module")
def real_rows():
    from stickerguard.signals import hash_file

    rows = []
    for i, name in enumerate(CUPPY):
        rows += rows_from_signals(hash_file(PACKS + "1/" + name), i + 1, name, i * 100)
    return rows + rows_from_signals(hash_file(PACKS + ANIM), 10, ANIM, 1000)


@pytest.mark.parametrize("transform, expected", [
    ("mirror", (1, "sticker_pdq", "sticker_pdq", 0, "flip_y")),
    ("rotate_90", (1, "sticker_pdq", "sticker_pdq", 2, "rot270")),
    ("jpeg_q70_white", (1, "sticker_pdq", "sticker_pdq", 0, "identity")),
    ("shrink_70", (1, "sticker_pdq", "sticker_pdq", 0, "identity")),
    # the smiley sits in the bottom-left corner (seed 0): only the occluded forms meet
    ("emoji_overlay", (1, "sticker_pdq", "sticker_pdq", 4, "erased_bottom_left")),
    # the caption along the bottom: plain PDQ is 10 bits away, the form without the bottom band 8
    ("text_overlay", (1, "sticker_pdq", "sticker_pdq", 8, "erased_bottom")),
])
def test_real_sticker_edits_match_only_their_item(real_rows, transform, expected):
    from PIL import Image

    from stickerguard.signals import hash_bytes
    from stickerguard.transforms import apply_bytes

    m = Matcher.from_rows(real_rows)
    with Image.open(PACKS + "1/" + CUPPY[0]) as img:
        data, ext = apply_bytes(transform, img)
    hits = m.match(hash_bytes(data, name=f"q.{ext}"))
    assert [(x.content_id, x.signal_type, x.query_signal, x.distance, x.transform)
            for x in hits] == [expected]


def _occluded_frame(rng, region, value, *, quality=90):
    return FrameSignals(index=0, timestamp_ms=0.0, pdq=rand(rng), quality=quality,
                        canonical_pdq=rand(rng), canonical_quality=quality,
                        canonical_occluded=((region, value, quality, 0.2),))


def test_occluded_hash_meets_only_its_own_region_within_16_bits(rng):
    h = rand(rng)
    m = Matcher.from_rows([row(h, signal_type="sticker_pdq", quality=90, content_id=1),
                           row(h, signal_type="sticker_pdq", quality=90, content_id=2).
                           _replace(region="bottom_left"),
                           row(h, signal_type="sticker_pdq", quality=90, content_id=3).
                           _replace(region="top")])
    [hit] = m.match(media(_occluded_frame(rng, "bottom_left", flip(h, 16, rng))))
    assert (hit.content_id, hit.distance, hit.transform, hit.signal_type, hit.query_signal) == (
        2, 16, "erased_bottom_left", "sticker_pdq", "sticker_pdq")
    assert m.match(media(_occluded_frame(rng, "bottom_left", flip(h, 17, rng)))) == []  # OCCLUDED_THRESHOLD
    assert m.match(media(_occluded_frame(rng, "bottom_left", h, quality=49))) == []  # min quality
    # a whole-drawing query hash never meets an occluded bank hash, and vice versa
    [plain] = m.match(media(frame(rand(rng), canonical=flip(h, 20, rng), cq=90)))
    assert (plain.content_id, plain.distance, plain.transform) == (1, 20, "identity")
    assert m.match_hash("sticker_pdq", h)[0].content_id == 1 and len(m.match_hash("sticker_pdq", h)) == 1


def test_bank_region_rows_are_checked(rng):
    h = rand(rng)
    with pytest.raises(BankError) as err:
        Matcher.from_rows([row(h, signal_type="sticker_pdq", bank="r1")._replace(region="middle", signal_id=77001)])
    assert str(err.value) == ("signal 77001 (bank 'r1'): region must be empty or, for sticker_pdq, one of "
                              "top_left, top_right, bottom_right, bottom_left, bottom, top; saw 'middle'")
    with pytest.raises(BankError) as err:
        Matcher.from_rows([row(h, bank="r1")._replace(region="top", signal_id=77002)])
    assert "signal 77002 (bank 'r1'): region must be empty or, for sticker_pdq" in str(err.value)


def test_real_unchanged_files_match_exactly_and_others_do_not(real_rows):
    from stickerguard.signals import hash_file

    m = Matcher.from_rows(real_rows)
    for i, name in enumerate(CUPPY):
        hits = m.match(hash_file(PACKS + "1/" + name))
        assert [(x.content_id, x.signal_type, x.distance) for x in hits] == [(i + 1, "md5", 0)]
    assert m.match(hash_file(PACKS + "1/04_Cuppy_sad.webp")) == []


def _mirrored_animation(n_frames=None) -> bytes:
    import io

    from PIL import Image, ImageSequence

    with Image.open(PACKS + ANIM) as im:
        frames = [(f.convert("RGBA").transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                   f.info.get("duration", 80)) for f in ImageSequence.Iterator(im)]
    frames = frames[:n_frames]
    buf = io.BytesIO()
    frames[0][0].save(buf, "WEBP", save_all=True, append_images=[f for f, _ in frames[1:]],
                      duration=[d for _, d in frames], loop=0, quality=50)
    return buf.getvalue()


def test_real_animation_mirrored_reencoded_matches_all_frames(real_rows):
    from stickerguard.signals import hash_bytes

    m = Matcher.from_rows(real_rows)
    [hit] = m.match(hash_bytes(_mirrored_animation(), name="anim.webp"))
    # 20 frames of 80 ms, 24 spread samples: every frame sampled, 18 kept after dedupe
    assert (hit.content_id, hit.distance, hit.transform, hit.frames_matched) == (
        10, 0, "flip_y", (19, 19, 18, 18, 18))


@pytest.mark.parametrize("transform, frames_matched", [
    ("anim_reencode", (19, 19, 18, 18, 18)),
    # 6 of 20 frames dropped: 14 bank frames matched, the other 4 lie next to matched ones
    ("frame_drop", (13, 13, 14, 18, 18)),
    # same frames at half the durations: spread sampling picks the same ones
    ("speed_2x", (19, 19, 18, 18, 18)),
])
def test_real_animation_retimed_copies_match(real_rows, transform, frames_matched):
    from stickerguard.signals import hash_bytes
    from stickerguard.transforms import apply_animation

    data = apply_animation(transform, (Path(PACKS) / ANIM).read_bytes(), seed=7)
    [hit] = Matcher.from_rows(real_rows).match(hash_bytes(data, name=f"{transform}.webp"))
    assert (hit.content_id, hit.distance, hit.frames_matched) == (10, 0, frames_matched)


@pytest.mark.parametrize("transform, frames_matched", [
    ("anim_reencode", (25, 25, 25, 25, 25)),
    ("frame_drop", (21, 23, 22, 25, 25)),
    ("speed_2x", (25, 25, 25, 25, 25)),
])
def test_white_on_transparent_animation_matches_its_retimed_copies(transform, frames_matched):
    """Every frame of collectible_phone.tgs is a white drawing: on white its canonical form
    was blank (quality 0, never searched); painted on black it is a real hash."""
    from stickerguard.signals import hash_bytes
    from stickerguard.transforms import apply_animation

    data = (Path(__file__).parent / "data/telegram-tgs/collectible_phone.tgs").read_bytes()
    bank = hash_bytes(data, name="collectible_phone.tgs")
    assert (len(bank.frames), min(f.canonical_quality for f in bank.frames)) == (25, 100)
    assert bank.frames[0].canonical_pdq == "b348e6d15cd788b5023ca22e79cf9543a1707a3057bc997ea61766a1a678999e"
    m = Matcher.from_rows(rows_from_signals(bank, 1, "collectible_phone.tgs", 0))
    [hit] = m.match(hash_bytes(apply_animation(transform, data, 3), name="q.webp", variants=False))
    assert (hit.content_id, hit.distance, hit.frames_matched) == (1, 0, frames_matched)


@pytest.mark.parametrize("n_frames, distance, frames_matched", [
    # (n_frames of 20, expected best distance, frames_matched); coverage counts no frame
    # past the excerpt's last match, so 12 of 20 frames (60 %) cover 14 of 18 < 0.8
    (2, 2, (1, 1, 2, 18, 2)),
    (4, 0, (3, 3, 4, 18, 5)),
    (8, 0, (7, 7, 9, 18, 10)),
    (12, 0, (11, 11, 13, 18, 14)),
])
def test_real_animation_prefix_fails_frame_rule(real_rows, n_frames, distance, frames_matched):
    from stickerguard.signals import hash_bytes

    sig = hash_bytes(_mirrored_animation(n_frames), name="prefix.webp")
    assert Matcher.from_rows(real_rows).match(sig) == []
    [hit] = Matcher.from_rows(real_rows, frame_match_ratio=0.05).match(sig)
    assert (hit.content_id, hit.distance, hit.frames_matched) == (10, distance, frames_matched)


# --- incremental changes and persistence (BankIndex) ---

def test_added_rows_match_at_once_and_removed_never(rng):
    h, other = rand(rng), rand(rng)
    m = Matcher.from_rows([row(other, content_id=1)], crossover=4)
    assert m.match(media(frame(flip(h, 5, rng)))) == []
    r_pdq = row(h, content_id=2, bank="b2", threshold=20)
    r_md5 = row("c" * 32, signal_type="md5", content_id=2, bank="b2", threshold=20)
    assert m.add_rows([r_pdq, r_md5]) == 2
    assert [(x.bank, x.content_id, x.distance) for x in m.match(media(frame(flip(h, 5, rng))))] == [
        ("b2", 2, 5)]
    assert m.stats()["b2"] == {"threshold": 20, "contents": 1, "signals": {"md5": 1, "pdq": 1},
                               "skipped_low_quality": 0}
    with pytest.raises(BankError, match=r"^signal \d+ \(bank 'b2'\): signal id given twice$"):
        m.add_rows([r_pdq])
    assert m.remove_signals([r_pdq.signal_id, 10**9]) == 1
    assert m.match(media(frame(h))) == []
    assert [x.signal_type for x in m.match(media(frame(h), md5="c" * 32))] == ["md5"]
    assert m.remove_signals([r_md5.signal_id]) == 1
    assert m.banks == ["b1"] and "b2" not in m.stats() and len(m) == 1
    m.add_rows([r_pdq])  # the same signal may come back
    assert [x.content_id for x in m.match(media(frame(h)))] == [2]


def test_many_adds_cross_into_multi_index_hashing(rng):
    hashes = [rand(rng) for _ in range(40)]
    m = Matcher(crossover=16)
    for i, h in enumerate(hashes):  # one row at a time, as a server applies a change log
        m.add_rows([row(h, content_id=100 + i)])
        assert [x.content_id for x in m.match_hash("pdq", flip(h, 31, rng))] == [100 + i]
    assert m._pdq.structure == "mih+flat"
    m.remove_signals(range(0, 10**4))
    assert len(m) == 0 and m.match_hash("pdq", hashes[0]) == []


def test_removing_frames_updates_animation_rule(rng):
    bank, m = _animated_bank(rng)
    q = [frame(flip(bank[i], 3, rng), index=i) for i in range(3)]
    assert m.match(media(*q)) == []  # 3/3 query frames but 3/5 bank frames
    first = min(m._pdq.ids().tolist())
    assert m.remove_signals([first + 3, first + 4]) == 2  # frames 3 and 4 of the item
    [hit] = m.match(media(*q))
    assert hit.frames_matched == FramesMatched(3, 3, 3, 3, 3)


def test_set_bank_threshold_enabled_labels(rng):
    h = rand(rng)
    r = row(h, bank="sb", labels=("x",))
    m = Matcher.from_rows([r])
    q = media(frame(flip(h, 25, rng)))
    m.set_bank(r.bank_id, threshold=20)
    assert m.match(q) == [] and m.stats()["sb"]["threshold"] == 20
    m.set_bank(r.bank_id, threshold=31, labels=["y", "z"])
    assert [(x.threshold, x.labels) for x in m.match(q)] == [(31, ("y", "z"))]
    m.set_bank(r.bank_id, enabled=False)
    assert m.banks == [] and m.match(q) == []
    m.set_bank(r.bank_id, enabled=True)
    assert len(m.match(q)) == 1
    assert m.set_bank(999_999, threshold=5) is False
    with pytest.raises(ValueError, match=r"^bank threshold must be 0..256 bits, saw 300$"):
        m.set_bank(r.bank_id, threshold=300)


def test_save_load_round_trip_keeps_matches_and_position(tmp_path, rng):
    bank, m = _animated_bank(rng)
    h = rand(rng)
    m.add_rows([row(h, content_id=8, content_labels=("c",), name="n.webp"),
                row(MD5, signal_type="md5", content_id=8)])
    m.remove_signals([min(m._pdq.ids().tolist())])  # a tombstone is not saved
    m.position = 1234
    m.save(tmp_path / "idx")
    m.save(tmp_path / "idx")  # replaces the previous save
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]
    loaded = Matcher.load(tmp_path / "idx")
    assert loaded.position == 1234 and loaded.stats() == m.stats() and len(loaded) == len(m) == 6
    q = media(*[frame(flip(b, 2, rng), index=i) for i, b in enumerate(bank[1:])], md5=MD5)
    assert loaded.match(q) == m.match(q)
    assert [(x.content_id, x.content_name, x.labels, x.signal_type) for x in loaded.match(q)] == [
        (8, "n.webp", ("csam", "c"), "md5"), (7, "s.webp", ("csam",), "pdq")]
    loaded.add_rows([row(flip(h, 1, rng), content_id=9)])
    assert [x.content_id for x in loaded.match_hash("pdq", h)] == [8, 9]
    with pytest.raises(ValueError, match=r"empty: no matcher.json \(not a saved index\)$"):
        Matcher.load(tmp_path / "empty")


def test_resolver_supplies_metadata_lazily(rng):
    h = rand(rng)
    asked = []

    def resolver(ids):
        asked.append(list(ids))
        return {5: ("from-db.webp", "pk", ("dbl",))}

    m = Matcher.from_rows([row(h, content_id=5, name="ignored"), row(flip(h, 1, rng), content_id=6)],
                          resolver=resolver)
    assert m._contents.names == []  # nothing kept in memory
    hits = m.match(media(frame(h)))
    assert asked == [[5, 6]]
    assert [(x.content_id, x.content_name, x.content_pack, x.labels) for x in hits] == [
        (5, "from-db.webp", "pk", ("csam", "dbl")), (6, None, None, ("csam",))]


def test_match_hashes_batch_equals_one_by_one(rng):
    hashes = [rand(rng) for _ in range(30)]
    m = Matcher.from_rows([row(h, content_id=i + 1, bank="wide" if i % 2 else "narrow",
                               threshold=31 if i % 2 else 10) for i, h in enumerate(hashes)] +
                          [row(MD5, signal_type="md5", content_id=99)], crossover=8)
    queries = [flip(hashes[i % 30], i % 41, rng) for i in range(90)] + [rand(rng), hashes[3]]
    batch = m.match_hashes("pdq", queries)
    assert batch == [m.match_hash("pdq", q) for q in queries]
    # k = i % 41 bits flipped: matches iff k <= 31 (odd items) or k <= 10 (even); + hashes[3]
    assert sum(1 for b in batch if b) == 52
    assert [[x.content_id for x in b] for b in m.match_hashes("md5", [MD5, "0" * 32])] == [[99], []]
    with pytest.raises(ValueError, match=r"^not a 64-hex-digit pdq hash: 'x'$"):
        m.match_hashes("pdq", [hashes[0], "x"])


def test_signal_id_held_under_another_type_is_refused(rng):
    r = row(rand(rng))
    m = Matcher.from_rows([r])
    with pytest.raises(BankError, match=rf"^signal {r.signal_id} \(bank 'b1'\): signal id given twice$"):
        m.add_rows([r._replace(signal_type="md5", value=MD5)])
    assert len(m) == 1 and m.match(media(frame(rand(rng)))) == []


def test_rebuild_runs_in_background_and_keeps_matching(rng):
    hashes = [rand(rng) for _ in range(60)]
    m = Matcher.from_rows([row(h, content_id=i + 1) for i, h in enumerate(hashes[:40])],
                          crossover=16)
    assert (m._pdq.structure, m._pdq._base) == ("mih+flat", 40)  # bulk load: built at once
    for i in range(40, 60):  # tail reaches max(16, 40 // 8): a rebuild thread starts
        m.add_rows([row(hashes[i], content_id=i + 1)])
        assert [x.content_id for x in m.match_hash("pdq", flip(hashes[i], 20, rng))] == [i + 1]
    m.wait_rebuild()
    # the thread snapshots the index when it starts (56 hashes, or a few more if adds
    # came first); hashes added while it built stay in the flat tail
    assert 56 <= m._pdq._base <= 60 and m._pdq._n == 60
    assert [len(x) for x in m.match_hashes("pdq", hashes)] == [1] * 60


def _mixed_rows(rng):
    """Two banks, an animation, sticker PDQ, exact hashes, low/unknown quality, upper case."""
    base = [rand(rng) for _ in range(12)]
    rows = [row(base[0], content_id=1), row(MD5, signal_type="md5", content_id=1),
            row(SHA, signal_type="sha256", content_id=1),
            row(base[1], signal_type="sticker_pdq", content_id=1, quality=80)]
    rows += [row(base[2 + f], content_id=2, frame_count=3, frame_index=f, quality=70)
             for f in range(3)]
    rows += [row(base[5], content_id=3, quality=10),  # below min_quality: skipped
             row(base[6], content_id=4, bank="other", threshold=20, labels=("spam",))]
    rows += [row(flip(base[7 + i], 3, rng), content_id=10 + i, bank="other", threshold=20,
                 labels=("spam",)) for i in range(5)]
    return base, rows


def test_bulk_column_path_equals_row_path(rng, monkeypatch):
    import stickerguard.index.banked as banked
    from stickerguard.index.bankrows import collect_fast

    base, rows = _mixed_rows(rng)
    assert collect_fast(Matcher(), rows, {}) is not None  # these rows take the fast path
    fast = Matcher.from_rows(rows, crossover=4)
    monkeypatch.setattr(banked, "collect_fast", lambda *args: None)
    slow = Matcher.from_rows(rows, crossover=4)
    assert fast.stats() == slow.stats() == {
        "b1": {"threshold": 31, "contents": 3, "skipped_low_quality": 1,
               "signals": {"md5": 1, "pdq": 4, "sha256": 1, "sticker_pdq": 1}},
        "other": {"threshold": 20, "contents": 6, "skipped_low_quality": 0, "signals": {"pdq": 6}}}
    for a, b in ((fast._pdq, slow._pdq), (fast._contents, slow._contents)):
        for name in ("_ids", "_payload", "_codes", "keys", "frame_count", "refs", "frame0"):
            if hasattr(a, name):
                assert (getattr(a, name)[:len(a)] == getattr(b, name)[:len(b)]).all(), name
    assert fast._contents.frames == slow._contents.frames == {1: {1: 1, 2: 1}}
    q = media(*[frame(flip(base[2 + f], 4, rng), index=f) for f in range(3)])
    # content 1 by its MD5 (distance 0), the animation by 3 of 3 frames
    assert fast.match(q) == slow.match(q) and [m.content_id for m in fast.match(q)] == [1, 2]
    assert [m.content_id for m in fast.match_hash("pdq", base[5])] == []  # low quality
    upper = [r._replace(signal_id=r.signal_id + 5000, value=r.value.upper(), content_id=99)
             for r in rows[:1]]  # upper-case hex: the row path normalises it
    fast.add_rows(upper)
    assert [m.content_id for m in fast.match_hash("pdq", base[0])] == [1, 99]


def test_match_hashes_reads_metadata_once(rng):
    hashes = [rand(rng) for _ in range(5)]
    asked = []

    def resolver(ids):
        asked.append(list(ids))
        return {i: (f"c{i}.webp", None, ()) for i in ids}

    m = Matcher.from_rows([row(h, content_id=i + 1) for i, h in enumerate(hashes)], resolver=resolver)
    found = m.match_hashes("pdq", hashes + [rand(rng)])
    assert [[x.content_name for x in f] for f in found] == [[f"c{i}.webp"] for i in range(1, 6)] + [[]]
    assert asked == [[1, 2, 3, 4, 5]]  # one resolver call for the batch, not one per hash
