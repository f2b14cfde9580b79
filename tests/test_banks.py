"""banks: CRUD, hash-list formats, all-or-nothing imports, add_media, export, loader.

Every test that touches the database runs on SQLite and PostgreSQL (``db`` fixture).
Hash values: PDQs from tests/data/pdq-reference/expected-pdq.csv; MD5/SHA-256 of the
empty string and python-threatexchange's sample MD5.
"""

from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import event, func, select

from stickerguard.banks import (
    FORMATS,
    BankInfo,
    BankSignalRow,
    HashRecord,
    ImportResult,
    add_media,
    create_bank,
    delete_bank,
    detect_format,
    export_hash_list,
    get_bank,
    import_hash_list,
    iter_bank_signals,
    list_banks,
    update_bank,
)
from stickerguard.banks import io as banks_io
from stickerguard.errors import BankError, HashListError
from stickerguard.store import BankContent, BankSignal

PDQ_C = "e64cc9d91e623842f8d1f1d9a398e78c9f199a3bd87924f2b7e11e0bf061b064"  # misc/c.png
PDQ_SMALL = "0007001f003f003f007f00ff00ff00ff01ff01ff01ff03ff03ff03ff03ff03ff"  # misc/small.jpg
PDQ_WEE = "6227401f601ff4ccafcc9fad4b0d95d371a2eb7265a3285234d228ca94deeb2d"  # misc/wee.jpg
MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"
MD5_TE = "cab08b36195edb1a1231d2d09fa450e0"
SHA_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256(b"abc")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def counts(db):
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(BankContent)),
            s.scalar(select(func.count()).select_from(BankSignal)),
        )


# --- bank CRUD ---------------------------------------------------------------


def test_create_get_list_update(db):
    info = create_bank(db, "csam-A1", labels=["csam", "A1"])
    assert info == BankInfo(1, "csam-A1", ("csam", "A1"), 31, True, 0, {})
    create_bank(db, "a.team_2", threshold=0)
    assert [b.name for b in list_banks(db)] == ["a.team_2", "csam-A1"]
    new = update_bank(db, "csam-A1", threshold=40, labels=["x"], enabled=False)
    assert new == BankInfo(1, "csam-A1", ("x",), 40, False, 0, {})
    assert get_bank(db, "csam-A1") == new
    assert update_bank(db, "csam-A1", enabled=True).threshold == 40  # untouched fields kept


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "a b"}, "bad bank name 'a b': use 1-100 characters from A-Z a-z 0-9 _ . -"),
        ({"name": ""}, "bad bank name '': use 1-100 characters from A-Z a-z 0-9 _ . -"),
        ({"name": "x" * 101}, f"bad bank name {'x' * 101!r}: use 1-100 characters from A-Z a-z 0-9 _ . -"),
        ({"name": "ok", "threshold": 257}, "threshold must be an integer 0..256 (bits), got 257"),
        ({"name": "ok", "threshold": -1}, "threshold must be an integer 0..256 (bits), got -1"),
        ({"name": "ok", "labels": "csam"}, "labels must be a list of strings, got the string 'csam'"),
    ],
)
def test_create_rejects(db, kwargs, message):
    with pytest.raises(BankError) as e:
        create_bank(db, **kwargs)
    assert str(e.value) == message
    assert list_banks(db) == []


def test_duplicate_and_unknown_bank(db, tmp_path):
    create_bank(db, "b")
    with pytest.raises(BankError, match=r"^bank 'b' already exists$"):
        create_bank(db, "b")
    f = write(tmp_path, "l.txt", PDQ_C + "\n")
    for call in (
        lambda: get_bank(db, "x"),
        lambda: update_bank(db, "x", threshold=3),
        lambda: delete_bank(db, "x"),
        lambda: import_hash_list(db, "x", f),
        lambda: export_hash_list(db, "x", io.StringIO()),
        lambda: iter_bank_signals(db, ["b", "x"]),
    ):
        with pytest.raises(BankError) as e:
            call()
        assert str(e.value) == "no bank named 'x'"
    with pytest.raises(BankError, match=r"got 300$"):
        update_bank(db, "b", threshold=300)


def test_delete_cascades(db, tmp_path):
    create_bank(db, "gone")
    create_bank(db, "kept")
    f = write(tmp_path, "l.txt", f"{PDQ_C}\nmd5 {MD5_EMPTY}\n")
    import_hash_list(db, "gone", f)
    import_hash_list(db, "kept", f)
    assert counts(db) == (4, 4)
    delete_bank(db, "gone")
    assert [b.name for b in list_banks(db)] == ["kept"]
    assert counts(db) == (2, 2)


# --- formats ------------------------------------------------------------------


def test_lines_format_parses_every_form(tmp_path):
    f = write(
        tmp_path,
        "list.csv",  # extension is ignored: content decides
        f"# a comment\n\npdq {PDQ_C.upper()}\n{PDQ_SMALL}\n{MD5_EMPTY}\nmd5 {MD5_TE}\n"
        f"sha256 {SHA_EMPTY}\n  sticker_pdq {PDQ_WEE}  \n",
    )
    assert detect_format(f) is FORMATS["lines"]
    recs = list(FORMATS["lines"].read(f))
    assert [(r.signal_type, r.value, r.line) for r in recs] == [
        ("pdq", PDQ_C, 3),
        ("pdq", PDQ_SMALL, 4),
        ("md5", MD5_EMPTY, 5),
        ("md5", MD5_TE, 6),
        ("sha256", SHA_EMPTY, 7),
        ("sticker_pdq", PDQ_WEE, 8),
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("pdq zz", "bad.txt:3: not a 64-hex-digit pdq hash: 'zz'"),
        (f"pdq {PDQ_C} extra", "bad.txt:3: unexpected extra field after the hash: 'extra'"),
        ("abc", "bad.txt:3: not a hash (bare values must be 64 hex digits for pdq or 32 for md5): 'abc'"),
        (f"md5 {PDQ_C}", f"bad.txt:3: not a 32-hex-digit md5 hash: '{PDQ_C}'"),
        (f"{MD5_TE[:-1]}g", f"bad.txt:3: not a 32-hex-digit md5 hash: '{MD5_TE[:-1]}g'"),
        (
            f"tmk {PDQ_C}",
            "bad.txt:3: unknown signal type 'tmk' (known: pdq, sticker_pdq, md5, sha256, "
            "video_md5, photo_md5, video_sha256)",
        ),
    ],
)
def test_bad_line_3_of_5_imports_nothing(db, tmp_path, line, message):
    create_bank(db, "b")
    f = write(tmp_path, "bad.txt", f"{PDQ_C}\n{MD5_EMPTY}\n{line}\n{PDQ_WEE}\n{PDQ_SMALL}\n")
    with pytest.raises(HashListError) as e:
        import_hash_list(db, "b", f)
    assert str(e.value).endswith(message)
    assert e.value.line == 3 and e.value.code == "hash_list_error"
    assert get_bank(db, "b").content_count == 0
    assert get_bank(db, "b").signal_count == {}
    assert counts(db) == (0, 0)


def test_error_names_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "bad.txt", f"{PDQ_C}\n\npdq zz\n")
    with pytest.raises(HashListError) as e:
        list(FORMATS["lines"].read("bad.txt"))
    assert str(e.value) == "bad.txt:3: not a 64-hex-digit pdq hash: 'zz'"


TE_SAMPLE = (
    "collab,signal_type,signal_str,category,tags\n"
    f"Sample Signals,pdq,{PDQ_C},TRUE_POSITIVE,media_priority_s1 csam\n"
    f"Sample Signals,video_md5,{MD5_TE},WORTH_INVESTIGATING,\n"
)


def test_te_csv_sample_parsed_to_exact_fields(tmp_path):
    f = write(tmp_path, "te.csv", TE_SAMPLE)
    assert detect_format(f) is FORMATS["te-csv"]
    assert list(FORMATS["te-csv"].read(f)) == [
        HashRecord("pdq", PDQ_C, "TRUE_POSITIVE", "Sample Signals", ("media_priority_s1", "csam")),
        HashRecord("md5", MD5_TE, "WORTH_INVESTIGATING", "Sample Signals", ()),
    ]
    assert [r.line for r in FORMATS["te-csv"].read(f)] == [2, 3]


def test_te_csv_without_header_both_column_orders(tmp_path):
    a = write(tmp_path, "a", f"pdq,{PDQ_C},My Collab,TRUE_POSITIVE,t1 t2\nphoto_md5,{MD5_EMPTY},,,\n")
    b = write(tmp_path, "b", f"My Collab,pdq,{PDQ_C},TRUE_POSITIVE,t1 t2\n,photo_md5,{MD5_EMPTY},,\n")
    expected = [
        HashRecord("pdq", PDQ_C, "TRUE_POSITIVE", "My Collab", ("t1", "t2")),
        HashRecord("md5", MD5_EMPTY),
    ]
    for f in (a, b):
        assert detect_format(f) is FORMATS["te-csv"]
        assert list(FORMATS["te-csv"].read(f)) == expected


def test_te_csv_rejects_non_media_types_and_short_rows(tmp_path):
    f = write(tmp_path, "te.csv", TE_SAMPLE + "Sample Signals,url,https://example.com/,WORTH_INVESTIGATING,\n")
    with pytest.raises(HashListError, match=r"te\.csv:4: unknown signal type 'url' \(known: "):
        list(FORMATS["te-csv"].read(f))
    g = write(tmp_path, "short.csv", TE_SAMPLE + f"Sample Signals,pdq,{PDQ_C}\n")
    with pytest.raises(HashListError) as e:
        list(FORMATS["te-csv"].read(g))
    assert str(e.value) == f"{g}:4: expected 5 columns, got 3: ['Sample Signals', 'pdq', '{PDQ_C}']"


def test_header_csv_aliases_and_optional_columns(tmp_path):
    f = write(
        tmp_path,
        "h.csv",
        "Signal_Type,hash,label,tags,name,frame,quality\n"
        f"pdq,{PDQ_C},csam,a b,cat.webp,3,87\n"
        f"video_sha256,{SHA_EMPTY.upper()},,,,,\n",
    )
    assert detect_format(f) is FORMATS["csv"]
    assert list(FORMATS["csv"].read(f)) == [
        HashRecord("pdq", PDQ_C, "csam", None, ("a", "b"), "cat.webp", 3, 87),
        HashRecord("sha256", SHA_EMPTY),
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (f"signal_type,hsh\npdq,{PDQ_C}\n", "h.csv:1: unknown column 'hsh' (known: signal_type, signal, hash, value, "
         "signal_str, label, category, collab, tags, name, frame, frame_index, quality)"),
        (f"signal_type,label\npdq,{PDQ_C}\n", "h.csv:1: header has no 'signal' column: ['signal_type', 'label']"),
        (f"signal_type,hash,value\npdq,{PDQ_C},x\n", "h.csv:1: column 'value' given twice (or with an alias)"),
        (f"signal_type,hash,quality\npdq,{PDQ_C},101\n", "h.csv:2: quality must be 0..100, got 101"),
        (f"signal_type,hash,frame\npdq,{PDQ_C},x\n", "h.csv:2: frame is not an integer: 'x'"),
        (f'signal_type,hash\npdq,"{PDQ_C}\n', "h.csv:2: bad CSV: unexpected end of data"),
    ],
)
def test_header_csv_errors(tmp_path, text, message):
    f = write(tmp_path, "h.csv", text)
    with pytest.raises(HashListError) as e:
        list(FORMATS["csv"].read(f))
    assert str(e.value) == f"{tmp_path}/{message}"


def test_auto_detect_unknown_and_non_utf8(tmp_path, db):
    f = write(tmp_path, "x.txt", "# header\nfoo,bar,baz\n")
    with pytest.raises(HashListError, match=r"x\.txt: cannot tell the hash-list format from this line: 'foo,bar,baz'"):
        detect_format(f)
    g = tmp_path / "bin.txt"
    g.write_bytes(b"pdq \xff\xfe\n")
    with pytest.raises(HashListError, match=r"bin\.txt: not UTF-8 text \(invalid start byte\)$"):
        list(FORMATS["lines"].read(g))
    create_bank(db, "b")
    with pytest.raises(HashListError, match=r"unknown hash-list format 'xml' \(known: auto, lines, te-csv, csv\)"):
        import_hash_list(db, "b", f, format="xml")


# --- import / export ----------------------------------------------------------


def test_import_counts_and_names(db, tmp_path):
    create_bank(db, "b", labels=["csam"])
    f = write(tmp_path, "list.txt", f"{PDQ_C}\n# c\n{MD5_EMPTY}\nsha256 {SHA_EMPTY}\npdq {PDQ_WEE}\n")
    res = import_hash_list(db, "b", f)
    assert res == ImportResult(str(f), 4, {"md5": 1, "pdq": 2, "sha256": 1})
    assert get_bank(db, "b") == BankInfo(1, "b", ("csam",), 31, True, 4, {"md5": 1, "pdq": 2, "sha256": 1})
    with db.session() as s:
        assert s.scalars(select(BankContent.name).order_by(BankContent.id)).all() == [
            "list.txt:1",
            "list.txt:3",
            "list.txt:4",
            "list.txt:5",
        ]
        assert set(s.scalars(select(BankContent.source))) == {str(f)}


@pytest.mark.parametrize("chunk", [5_000, 1])  # 1: every repeat is in an earlier, inserted chunk
def test_reimport_skips_what_the_bank_holds(db, tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(banks_io, "CHUNK", chunk)
    create_bank(db, "b")
    create_bank(db, "other")
    f = write(tmp_path, "list.txt", f"{PDQ_C}\n{MD5_EMPTY}\n{PDQ_C}\n")  # line 3 repeats line 1
    assert import_hash_list(db, "b", f) == ImportResult(str(f), 2, {"md5": 1, "pdq": 1}, 1)
    assert import_hash_list(db, "b", f) == ImportResult(str(f), 0, {}, 3)
    assert counts(db) == (2, 2)
    # same value as another signal type, or in another bank: not a duplicate
    g = write(tmp_path, "more.txt", f"sticker_pdq {PDQ_C}\npdq {PDQ_WEE}\n{MD5_EMPTY}\n")
    assert import_hash_list(db, "b", g) == ImportResult(str(g), 2, {"pdq": 1, "sticker_pdq": 1}, 1)
    assert import_hash_list(db, "other", f).records == 2
    assert counts(db) == (6, 6)


def test_add_media_skips_stickers_already_in_the_bank(db):
    create_bank(db, "s")
    one = _sticker("01.webp", [(PDQ_C, 100, PDQ_WEE, 90)])
    same = _sticker("copy-of-01.webp", [(PDQ_SMALL, 100, None, 0)])  # same SHA-256
    other = _sticker("02.webp", [(PDQ_WEE, 100, None, 0)], sha256=SHA_ABC)
    ids: list[int] = []
    assert add_media(db, "s", [one, same], ids_out=ids) == ImportResult(
        None, 1, {"md5": 1, "pdq": 1, "sha256": 1, "sticker_pdq": 1}, 1)
    assert add_media(db, "s", [one, other], ids_out=ids) == ImportResult(
        None, 1, {"md5": 1, "pdq": 1, "sha256": 1}, 1)
    assert ids == [1, 2]
    assert add_media(db, "s", [one], dedupe=False).records == 1  # an explicit add (API) always adds
    with db.session() as s:
        assert s.scalars(select(BankContent.name).order_by(BankContent.id)).all() == [
            "01.webp", "02.webp", "01.webp"]


@pytest.mark.parametrize("fmt", ["lines", "te-csv", "csv"])
def test_round_trip(db, tmp_path, fmt):
    src = write(
        tmp_path,
        "src.csv",
        "signal_type,signal,category,collab,tags,name,frame,quality\n"
        f"pdq,{PDQ_C},TRUE_POSITIVE,Sample Signals,a b,one.webp,0,90\n"
        f"md5,{MD5_TE},,Sample Signals,,two.webp,0,\n"
        f"sha256,{SHA_EMPTY},csam,,x,three.webp,0,\n"
        f"sticker_pdq,{PDQ_WEE},,,,four.webp,2,55\n",
    )
    create_bank(db, "one")
    create_bank(db, "two")
    import_hash_list(db, "one", src)
    out1 = tmp_path / f"out1.{fmt}"
    with open(out1, "w", newline="") as fh:
        assert export_hash_list(db, "one", fh, format=fmt) == 4
    assert import_hash_list(db, "two", out1).records == 4  # auto-detected
    out2 = io.StringIO(newline="")
    export_hash_list(db, "two", out2, format=fmt)
    original = list(FORMATS["csv"].read(src))
    again = list(FORMATS[fmt].read(out1))
    if fmt == "lines":  # type and value only
        assert [(r.signal_type, r.value) for r in again] == [(r.signal_type, r.value) for r in original]
    elif fmt == "te-csv":  # no names, frames or quality
        assert [(r.signal_type, r.value, r.category, r.collab, r.tags) for r in again] == [
            (r.signal_type, r.value, r.category, r.collab, r.tags) for r in original
        ]
        assert out1.read_text().splitlines()[:3] == [
            "collab,signal_type,signal_str,category,tags",
            f"Sample Signals,pdq,{PDQ_C},TRUE_POSITIVE,a b",
            f"Sample Signals,video_md5,{MD5_TE},,",
        ]
    else:
        assert again == original
        rows = list(iter_bank_signals(db, ["two"]))
        assert [(r.content_name, r.content_labels) for r in rows] == [
            ("one.webp", ("TRUE_POSITIVE",)),
            ("two.webp", ()),
            ("three.webp", ("csam",)),
            ("four.webp", ()),
        ]
    if fmt != "csv":  # second export equals the first (names differ in csv: out1.csv:N)
        assert out2.getvalue() == out1.read_text()


def test_export_filters_types(db, tmp_path):
    create_bank(db, "b")
    import_hash_list(db, "b", write(tmp_path, "l", f"{PDQ_C}\n{MD5_EMPTY}\nsha256 {SHA_EMPTY}\n"))
    out = io.StringIO()
    assert export_hash_list(db, "b", out, signal_types=["md5", "sha256"]) == 2
    assert out.getvalue() == f"md5 {MD5_EMPTY}\nsha256 {SHA_EMPTY}\n"
    with pytest.raises(KeyError, match="unknown signal type 'tmk'"):
        export_hash_list(db, "b", io.StringIO(), signal_types=["tmk"])


def test_db_failure_mid_import_rolls_back(db, tmp_path, monkeypatch):
    monkeypatch.setattr(banks_io, "CHUNK", 2)  # 5 records -> 3 rounds of inserts
    create_bank(db, "b")
    f = write(tmp_path, "five.txt", f"{PDQ_C}\n{PDQ_SMALL}\n{PDQ_WEE}\n{MD5_EMPTY}\n{MD5_TE}\n")
    inserts = []

    def fail_second_signal_insert(conn, cursor, statement, params, context, executemany):
        if statement.startswith("INSERT INTO bank_signals"):
            inserts.append(statement)
            if len(inserts) == 2:
                raise RuntimeError("injected failure after 2 of 5 records")

    event.listen(db.engine, "before_cursor_execute", fail_second_signal_insert)
    try:
        with pytest.raises(RuntimeError, match="injected failure"):
            import_hash_list(db, "b", f)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_second_signal_insert)
    assert len(inserts) == 2
    assert counts(db) == (0, 0)
    assert import_hash_list(db, "b", f).records == 5  # and it works without the fault


def test_large_list_imports_in_bulk(db, tmp_path):
    n = 50_000
    lines = "".join(f"pdq {i:064x}\n" for i in range(n))
    create_bank(db, "big")
    f = write(tmp_path, "big.txt", lines)
    t0 = time.perf_counter()
    assert import_hash_list(db, "big", f).by_type == {"pdq": n}
    took = time.perf_counter() - t0
    assert took < 20, f"{n} lines took {took:.1f}s"
    t0 = time.perf_counter()
    rows = list(iter_bank_signals(db))
    assert len(rows) == n and rows[-1].value == f"{n - 1:064x}"
    assert time.perf_counter() - t0 < 10


# --- add_media / loader -----------------------------------------------------------


def _sticker(name, frames, *, animated=False, sha256=SHA_EMPTY):
    from stickerguard.media.types import PackInfo, Sticker
    from stickerguard.signals.types import FrameSignals, MediaSignals

    pack = PackInfo("whatsapp", "com.example.cuppy", name="Cuppy", source="/packs/1")
    sig = MediaSignals(
        md5=MD5_EMPTY,
        sha256=sha256,
        format="webp",
        width=512,
        height=512,
        animated=animated,
        frame_count=len(frames) * 2,
        duration_ms=0.0,
        frames=[FrameSignals(i * 2, 0.0, p, q, c, cq) for i, (p, q, c, cq) in enumerate(frames)],
    )
    return Sticker(f"/packs/1/{name}", name, b"", pack), sig


def test_add_media_and_iter_bank_signals(db):
    create_bank(db, "stickers", labels=["test"], threshold=20)
    create_bank(db, "off")
    items = [
        _sticker("01.webp", [(PDQ_C, 100, PDQ_WEE, 90)]),
        _sticker("anim.webp", [(PDQ_SMALL, 60, None, 0), (PDQ_WEE, 70, PDQ_C, 80)], animated=True,
                 sha256=SHA_ABC),
    ]
    res = add_media(db, "stickers", items)
    assert res == ImportResult(None, 2, {"md5": 2, "pdq": 3, "sha256": 2, "sticker_pdq": 2})
    add_media(db, "off", items[:1])
    update_bank(db, "off", enabled=False)
    rows = list(iter_bank_signals(db))
    assert all(r.bank_name == "stickers" for r in rows)
    assert [(r.content_id, r.content_name, r.content_frame_count, r.animated, r.signal_type, r.value, r.frame_index, r.quality) for r in rows] == [
        (1, "01.webp", 1, False, "md5", MD5_EMPTY, 0, None),
        (1, "01.webp", 1, False, "sha256", SHA_EMPTY, 0, None),
        (1, "01.webp", 1, False, "pdq", PDQ_C, 0, 100),
        (1, "01.webp", 1, False, "sticker_pdq", PDQ_WEE, 0, 90),
        (2, "anim.webp", 2, True, "md5", MD5_EMPTY, 0, None),
        (2, "anim.webp", 2, True, "sha256", SHA_ABC, 0, None),
        (2, "anim.webp", 2, True, "pdq", PDQ_SMALL, 0, 60),
        (2, "anim.webp", 2, True, "pdq", PDQ_WEE, 2, 70),
        (2, "anim.webp", 2, True, "sticker_pdq", PDQ_C, 2, 80),
    ]
    assert {(r.bank_id, r.bank_threshold, r.bank_labels, r.content_pack, r.content_labels) for r in rows} == {
        (1, 20, ("test",), "com.example.cuppy", ())
    }
    assert list(iter_bank_signals(db, ["off"])) == []  # disabled
    assert len(list(iter_bank_signals(db, ["stickers"]))) == 9
    with db.session() as s:
        assert s.scalars(select(BankContent.source).order_by(BankContent.id)).all() == [
            "/packs/1/01.webp",
            "/packs/1/anim.webp",
            "/packs/1/01.webp",
        ]


def test_occluded_forms_stored_with_their_region_and_left_out_of_exports(db):
    import dataclasses

    create_bank(db, "occ")
    st, sig = _sticker("01.webp", [(PDQ_C, 100, PDQ_WEE, 90)])
    occluded = (("bottom_left", PDQ_SMALL, 80, 0.1), ("top", PDQ_C, 40, 0.0))
    sig = dataclasses.replace(sig, frames=[dataclasses.replace(sig.frames[0], canonical_occluded=occluded)])
    assert add_media(db, "occ", [(st, sig)]).by_type == {"md5": 1, "pdq": 1, "sha256": 1, "sticker_pdq": 3}
    assert [(r.signal_type, r.value, r.quality, r.region) for r in iter_bank_signals(db, ["occ"])][2:] == [
        ("pdq", PDQ_C, 100, None), ("sticker_pdq", PDQ_WEE, 90, None),
        ("sticker_pdq", PDQ_SMALL, 80, "bottom_left"), ("sticker_pdq", PDQ_C, 40, "top")]
    out = io.StringIO()
    assert export_hash_list(db, "occ", out) == 4  # md5, sha256, pdq, the whole-drawing sticker_pdq
    assert PDQ_SMALL not in out.getvalue()
