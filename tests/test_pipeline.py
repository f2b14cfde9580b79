"""End to end on the real sample packs: every sticker hashes, and a bank built from the
Cuppy pack (pack "1") matches that pack after each transform of issue 2's acceptance
list while matching nothing in pack "2" or the Telegram stickers."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from stickerguard.jobs import import_media
from stickerguard.match import Matcher, ScanSummary, scan
from stickerguard.transforms import apply_bytes

DATA = Path(__file__).parent / "data"
WA = DATA / "whatsapp-sample-packs"
CUPPY = WA / "1"
TGS = DATA / "telegram-tgs"
ACCEPTANCE = ("webp_q50", "resize_256", "mirror", "flatten_random", "shrink_70")


def test_scan_hashes_every_sticker_static_animated_and_tgs():
    summary = ScanSummary()
    results = list(scan([WA, TGS], None, summary=summary))
    hashed = [r for r in results if r.signals is not None]
    by_pack: dict[str, list] = {}
    for r in hashed:
        by_pack.setdefault(r.pack.identifier, []).append(r)
    assert len(by_pack["1"]) == 26  # 25 Cuppy stickers + tray
    assert len(by_pack["2"]) == 22  # 21 animated stickers + tray
    assert sum(r.signals.animated for r in by_pack["2"]) == 21
    tgs = [r for r in hashed if r.signals.format == "tgs"]
    assert len(tgs) == 7 and all(r.signals.animated for r in tgs)
    assert {r.pack.name for r in by_pack["1"]} == {"Cuppy"}
    assert by_pack["1"][1].name == "01_Cuppy_smile.webp"
    assert by_pack["1"][1].emojis == ("☕", "🙂", "😀")
    # LICENSE and NOTICE files are not media: skipped, not errors
    assert summary.hashed == 55 and summary.skipped == 3 and summary.error_count == 0
    assert summary.exit_code() == 0


@pytest.fixture(scope="module")
def cuppy_bank(tmp_path_factory):
    from stickerguard.banks import create_bank
    from stickerguard.store import open_db

    path = tmp_path_factory.mktemp("bank") / "bank.sqlite3"
    db = open_db(f"sqlite:///{path}")
    create_bank(db, "cuppy", labels=("stand-in",))
    result = import_media(db, "cuppy", [CUPPY])
    assert result.added == 26 and result.failed == []
    return Matcher.from_db(db)


@pytest.mark.parametrize("transform", ACCEPTANCE)
def test_cuppy_bank_matches_transformed_cuppy(cuppy_bank, tmp_path, transform):
    stickers = sorted(CUPPY.glob("[0-9][0-9]_*.webp"))
    for path in stickers:
        data, ext = apply_bytes(transform, Image.open(path), 7)
        (tmp_path / f"{path.stem}.{ext}").write_bytes(data)
    results = list(scan([tmp_path], cuppy_bank))
    assert len(results) == 25
    for r in results:
        assert r.matches, f"{r.name} after {transform} did not match"
        best = r.matches[0]
        # best match is the sticker itself, within the bank threshold
        assert Path(best.content_name).stem == Path(r.name).stem, (r.name, best.content_name)
        assert best.distance <= 31
        assert best.bank == "cuppy" and tuple(best.labels) == ("stand-in",)


def test_cuppy_bank_matches_nothing_in_pack_2_or_telegram(cuppy_bank):
    summary = ScanSummary()
    results = [r for r in scan([WA / "2", TGS], cuppy_bank, summary=summary) if r.signals is not None]
    assert len(results) == 22 + 7
    assert [r.name for r in results if r.matches] == []
    assert summary.exit_code() == 0
