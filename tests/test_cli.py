"""The CLI run in-process (``stickerguard.cli.main``) against a temp SQLite database:
exact output values, error texts and grep-like exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stickerguard.cli import main

DATA = Path(__file__).parent / "data"
CUPPY = DATA / "whatsapp-sample-packs" / "1"
PACK2 = DATA / "whatsapp-sample-packs" / "2"
SMILE = CUPPY / "01_Cuppy_smile.webp"
SMILE_PDQ = "8d26b0a75e97464fa05a2b7256e9fdadab61aa165c86555a9016aba16ffa5016"
SMILE_MD5 = "edce3954fed61bb92dfe27564f8d4262"


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("STICKERGUARD_DB", url)
    return url


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_hash_json_gives_exact_signals(capsys):
    code, out, _ = run(capsys, "hash", SMILE, "--json")
    assert code == 0
    doc = json.loads(out)
    (res,) = doc["results"]
    sig = res["signals"]
    assert (sig["md5"], sig["pdq"], sig["quality"], sig["format"]) == (SMILE_MD5, SMILE_PDQ, 100, "webp")
    assert sig["sticker_pdq"] == "3e17c1d6dd5b276b426ed5ba3f317e87c1f8c81a36062049c891ffa537eb0012"
    assert res["pack"]["kind"] == "file"
    assert doc["summary"]["hashed"] == 1


def test_hash_table_lists_every_signal(capsys):
    code, out, _ = run(capsys, "hash", SMILE)
    assert code == 0
    lines = [line.split() for line in out.splitlines()[1:]]
    assert [(row[1], row[2]) for row in lines] == [
        ("md5", SMILE_MD5),
        ("sha256", "4d9b694cfe50d14aa39c3084b8bc472843135990b953f2c8a7a073ffaf5e2198"),
        ("pdq", SMILE_PDQ),
        ("sticker_pdq", "3e17c1d6dd5b276b426ed5ba3f317e87c1f8c81a36062049c891ffa537eb0012"),
    ]


def test_hash_bad_inputs_name_file_and_defect(capsys, tmp_path):
    empty = tmp_path / "empty.webp"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.webp"
    truncated.write_bytes(SMILE.read_bytes()[:3887])
    jpeg_as_png = tmp_path / "photo.png"
    jpeg_as_png.write_bytes((DATA / "pdq-reference" / "misc" / "small.jpg").read_bytes())
    code, out, _ = run(capsys, "hash", empty, truncated, jpeg_as_png, "--jsonl")
    assert code == 0  # one file hashed; the bad ones are reported and the run goes on
    docs = {Path(d["path"]).name: d for d in map(json.loads, out.splitlines())}
    assert docs["empty.webp"]["error"] == {
        "error": "decode_error",
        "message": f"{empty}: empty file",
        "path": str(empty),
    }
    assert docs["cut.webp"]["error"]["error"] == "decode_error"
    assert docs["cut.webp"]["error"]["message"] == (
        f"{truncated}: truncated webp: RIFF header declares 7774 bytes, file has 3887 "
        "(could not create decoder object)"
    )
    # A .png that is really a JPEG is sniffed from its bytes and hashed as JPEG.
    assert docs["photo.png"]["signals"]["format"] == "jpeg"
    assert docs["photo.png"]["signals"]["md5"] == "33d9a49e6f9a0c732182afa3e89ea841"


def test_hash_only_bad_files_exits_2(capsys, tmp_path):
    empty = tmp_path / "empty.webp"
    empty.write_bytes(b"")
    code, _, _ = run(capsys, "hash", empty)
    assert code == 2
    text = tmp_path / "text.webp"  # not media at all: skipped, and nothing was hashed
    text.write_text("hello\n")
    assert run(capsys, "hash", text)[0] == 2


def test_missing_path_error_names_the_path(capsys, db, tmp_path):
    run(capsys, "bank", "create", "b")
    missing = tmp_path / "nope.txt"
    code, _, err = run(capsys, "bank", "import", "b", missing)
    assert code == 2
    assert err.strip() == f"error: {missing}: no such file or directory"
    code, out, _ = run(capsys, "bank", "import", "b", missing, "--json")
    assert json.loads(out) == {"error": "io_error", "message": f"{missing}: no such file or directory",
                               "path": str(missing)}


def test_bank_lifecycle_and_scan_exit_codes(capsys, db, tmp_path):
    assert run(capsys, "bank", "create", "known", "--label", "stand-in", "--threshold", "31")[0] == 0
    code, out, _ = run(capsys, "bank", "import", "known", CUPPY / "02_Cuppy_lol.webp", SMILE, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["media"]["added"] == 2
    assert report["media"]["signals"]["pdq"] == 2 and report["media"]["signals"]["md5"] == 2
    assert report["media"]["duplicates"] == 0
    # the same stickers again: nothing added, both counted as already in the bank
    code, out, _ = run(capsys, "bank", "import", "known", CUPPY / "02_Cuppy_lol.webp", SMILE)
    assert code == 0
    assert "added 0 stickers, skipped 2 duplicates (already in the bank or repeated)" in out
    # change log: bank created, signals added; pruning keeps the newest row
    assert run(capsys, "db", "prune-changes", "--older-than-days", "1", "--json")[1] == '{"deleted": 0}\n'
    assert run(capsys, "db", "prune-changes", "--older-than-days", "0", "--json")[1] == '{"deleted": 1}\n'
    assert run(capsys, "db", "prune-changes", "--older-than-days", "-1")[0] == 2

    code, out, _ = run(capsys, "bank", "show", "known", "--json")
    info = json.loads(out)
    assert (info["name"], info["labels"], info["threshold"], info["content_count"]) == (
        "known", ["stand-in"], 31, 2,
    )

    # match -> 1
    code, out, err = run(capsys, "scan", SMILE, "--json")
    assert code == 1
    doc = json.loads(out)
    (res,) = doc["results"]
    best = res["matches"][0]
    assert (best["bank"], best["content_name"], best["signal_type"], best["distance"]) == (
        "known", "01_Cuppy_smile.webp", "md5", 0,
    )
    # no match -> 0
    code, out, _ = run(capsys, "scan", CUPPY / "03_Cuppy_rofl.webp", "--jsonl")
    assert code == 0
    lines = [json.loads(x) for x in out.splitlines()]
    assert lines[0]["matches"] == [] and lines[-1]["summary"]["matched"] == 0
    # nothing scannable -> 2
    notes = tmp_path / "notes.txt"
    notes.write_text("not a sticker\n")
    assert run(capsys, "scan", notes)[0] == 2
    assert "1 not media (--all lists them)" in run(capsys, "scan", notes)[2]
    # a match next to a file that fails: 1, but 2 with --strict (any failed file)
    empty = tmp_path / "empty.webp"
    empty.write_bytes(b"")
    assert run(capsys, "scan", SMILE, empty)[0] == 1
    assert run(capsys, "scan", SMILE, empty, "--strict")[0] == 2
    # unknown bank -> 2 with the bank named
    code, out, _ = run(capsys, "scan", SMILE, "--bank", "nope", "--json")
    assert code == 2
    assert json.loads(out)["error"] == "bank_error"


def test_scan_table_names_pack_sticker_bank_label_signal_distance(capsys, db, tmp_path):
    run(capsys, "bank", "create", "known", "--label", "stand-in")
    run(capsys, "bank", "import", "known", SMILE)
    mirrored = tmp_path / "mirrored.png"
    from PIL import Image, ImageOps

    ImageOps.mirror(Image.open(SMILE)).save(mirrored)
    code, out, err = run(capsys, "scan", mirrored, "--workers", "1")
    assert code == 1
    header, row = out.splitlines()[:2]
    assert header.split() == ["pack", "sticker", "bank", "label", "signal", "distance", "transform"]
    cells = row.split()
    assert cells[1:4] == ["mirrored.png", "known", "stand-in"]
    assert cells[-1] == "flip_y"
    assert "1 files, 1 hashed, 1 matched" in err


def test_bank_import_bad_line_imports_nothing(capsys, db, tmp_path):
    run(capsys, "bank", "create", "lists")
    bad = tmp_path / "bad.txt"
    bad.write_text(f"pdq {SMILE_PDQ}\nmd5 {SMILE_MD5}\npdq zz\n")
    code, out, err = run(capsys, "bank", "import", "lists", bad)
    assert code == 2
    assert f"{bad}:3: not a 64-hex-digit pdq hash: 'zz'" in err
    code, out, _ = run(capsys, "bank", "show", "lists", "--json")
    assert json.loads(out)["content_count"] == 0


def test_bank_export_round_trip(capsys, db, tmp_path):
    run(capsys, "bank", "create", "a")
    good = tmp_path / "good.txt"
    good.write_text(f"pdq {SMILE_PDQ}\nmd5 {SMILE_MD5}\n")
    assert run(capsys, "bank", "import", "a", good)[0] == 0
    exported = tmp_path / "out.txt"
    assert run(capsys, "bank", "export", "a", "-o", exported)[0] == 0
    assert exported.read_text().splitlines() == [f"pdq {SMILE_PDQ}", f"md5 {SMILE_MD5}"]
    # the exported list matches the sticker it came from, by md5 and by PDQ
    code, out, _ = run(capsys, "scan", SMILE, "--json")
    assert code == 1
    got = {(m["signal_type"], m["distance"]) for m in json.loads(out)["results"][0]["matches"]}
    assert got == {("md5", 0), ("pdq", 0)}


def test_bank_list_json(capsys, db):
    run(capsys, "bank", "create", "b2", "--threshold", "20")
    run(capsys, "bank", "create", "b1")
    code, out, _ = run(capsys, "bank", "list", "--json")
    assert code == 0
    assert [(b["name"], b["threshold"]) for b in json.loads(out)] == [("b1", 31), ("b2", 20)]


def test_scan_without_banks_is_an_error(capsys, db):
    code, _, err = run(capsys, "scan", SMILE)
    assert code == 2
    assert "no enabled banks" in err


@pytest.mark.slow
def test_demo_matches_known_and_only_known(capsys, db):
    code, out, _ = run(capsys, "demo", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["all_ok"] is True
    known = [r for r in report["rows"] if r["expected"]]
    unknown = [r for r in report["rows"] if not r["expected"]]
    assert (len(known), sum(r["matched"] for r in known)) == (72, 72)
    assert (len(unknown), sum(r["matched"] for r in unknown)) == (29, 0)
