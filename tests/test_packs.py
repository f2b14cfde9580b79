"""Sticker-pack reading: WhatsApp folders, .wastickers zips, Telegram sets, Signal packs,
plain folders and single files, including hostile inputs (zip bombs, traversal, bad MACs)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from stickerguard.errors import LimitExceeded, PackError
from stickerguard.media import Limits
from stickerguard.media.packs import iter_stickers
from stickerguard.media.types import PackInfo, SourceError, Sticker

DATA = Path(__file__).parent / "data"
WA = DATA / "whatsapp-sample-packs"
TGS = DATA / "telegram-tgs"
CUPPY = WA / "1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Sticker)], [i for i in items if isinstance(i, SourceError)]


def errors_text(errors):
    return [str(e.error) for e in errors]


# --- WhatsApp sticker-app folder -------------------------------------------------------


def test_whatsapp_sample_packs_counts_emojis_and_packinfo():
    stickers, errors = split(iter_stickers([WA]))
    assert errors == []
    one = [s for s in stickers if s.pack.kind == "whatsapp" and s.pack.identifier == "1"]
    two = [s for s in stickers if s.pack.kind == "whatsapp" and s.pack.identifier == "2"]
    assert (sum(not s.is_tray for s in one), sum(s.is_tray for s in one)) == (25, 1)
    assert (sum(not s.is_tray for s in two), sum(s.is_tray for s in two)) == (21, 1)
    # LICENSE and NOTICE at the root are not in any pack: yielded as plain-folder files.
    rest = [s.name for s in stickers if s.pack.kind != "whatsapp"]
    assert rest == ["LICENSE", "NOTICE"]
    assert one[0].pack == PackInfo(
        kind="whatsapp", identifier="1", name="Cuppy", publisher="Jane Doe", animated=None, source=str(WA)
    )
    assert two[0].pack == PackInfo(
        kind="whatsapp", identifier="2", name="Together While Apart",
        publisher="World Health Organization", animated=True, source=str(WA),
    )
    tray, smile = one[0], one[1]
    assert (tray.name, tray.is_tray, tray.emojis) == ("tray_Cuppy.png", True, ())
    assert sha(tray.data) == "30f46d038ce69fb6d1bf37a51c3f793be4415ff842853f8d5096cea841258479"
    assert smile.name == "01_Cuppy_smile.webp"
    assert smile.path == str(CUPPY / "01_Cuppy_smile.webp")
    assert smile.emojis == ("☕", "🙂", "😀")
    assert sha(smile.data) == "4d9b694cfe50d14aa39c3084b8bc472843135990b953f2c8a7a073ffaf5e2198"
    assert one[-1].name == "25_Cuppy_battery.webp" and one[-1].emojis == ("🔋", "😵")
    assert two[0].name == "01.png" and two[1].emojis == ("💕", "😘", "❤️")


@pytest.fixture()
def wa_copy(tmp_path):
    root = tmp_path / "wa"
    root.mkdir()
    shutil.copytree(CUPPY, root / "1")
    manifest = json.loads((WA / "contents.json").read_text(encoding="utf-8"))
    manifest["sticker_packs"] = manifest["sticker_packs"][:1]
    return root, manifest


def write_manifest(root: Path, manifest) -> None:
    (root / "contents.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def test_whatsapp_missing_file_field_and_unlisted_file(wa_copy):
    root, manifest = wa_copy
    (root / "1" / "04_Cuppy_sad.webp").unlink()
    shutil.copy(WA / "2" / "01.png", root / "1" / "zz_hidden_extra.png")
    del manifest["sticker_packs"][0]["publisher"]
    manifest["sticker_packs"][0]["stickers"][5]["image_file"] = "../../etc/passwd"
    write_manifest(root, manifest)
    stickers, errors = split(iter_stickers([root]))
    cj = root / "contents.json"
    assert errors_text(errors) == [
        f"{cj}: sticker_packs[0].publisher: missing required field",
        f"{cj}: sticker_packs[0].stickers[3].image_file: file '04_Cuppy_sad.webp' not found",
        f"{cj}: sticker_packs[0].stickers[5].image_file: not a plain file name: '../../etc/passwd'",
    ]
    assert errors[1].error.field == "sticker_packs[0].stickers[3].image_file"
    assert isinstance(errors[1].error, PackError)
    # 26 files on disk - 1 deleted + 1 extra; the file whose entry was poisoned
    # (06_Cuppy_love.webp) is still yielded as an unlisted file, without emojis.
    assert len(stickers) == 26
    assert all(s.pack.publisher is None and s.pack.name == "Cuppy" for s in stickers)
    by_name = {s.name: s for s in stickers}
    assert by_name["06_Cuppy_love.webp"].emojis == ()
    assert by_name["zz_hidden_extra.png"].emojis == ()
    assert by_name["zz_hidden_extra.png"].pack.identifier == "1"
    assert stickers[-1].name == "zz_hidden_extra.png"


def test_whatsapp_bad_json_reports_line_and_still_scans(wa_copy):
    root, _ = wa_copy
    (root / "contents.json").write_text('{\n  "sticker_packs": [\n    {"identifier": "1",,}\n  ]\n}\n')
    stickers, errors = split(iter_stickers([root]))
    assert errors_text(errors) == [
        f"{root / 'contents.json'}:3: invalid JSON: Expecting property name enclosed in double quotes at column 24"
    ]
    assert errors[0].error.line == 3
    assert len(stickers) == 26 and {s.pack.kind for s in stickers} == {"folder"}


# --- .wastickers / zip archives -----------------------------------------------------------


def build_wastickers(path: Path) -> list[str]:
    names = ["01_Cuppy_smile.webp", "02_Cuppy_lol.webp", "03_Cuppy_rofl.webp"]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("title.txt", "Cuppy\n")
        zf.writestr("author.txt", "\ufeffJane Doe")
        zf.write(CUPPY / "tray_Cuppy.png", "tray.png")
        for n in names:
            zf.write(CUPPY / n, n)
    return names


def test_wastickers_members_title_author(tmp_path):
    arc = tmp_path / "cuppy.wastickers"
    names = build_wastickers(arc)
    stickers, errors = split(iter_stickers([arc]))
    assert errors == []
    assert [s.name for s in stickers] == ["tray.png", *names]
    assert [s.is_tray for s in stickers] == [True, False, False, False]
    assert stickers[1].path == f"{arc}!01_Cuppy_smile.webp"
    assert sha(stickers[1].data) == "4d9b694cfe50d14aa39c3084b8bc472843135990b953f2c8a7a073ffaf5e2198"
    assert stickers[1].pack == PackInfo(
        kind="wastickers", identifier="cuppy", name="Cuppy", publisher="Jane Doe", source=str(arc)
    )


def test_zip_sniffed_by_magic_inside_folder_and_not_by_extension(tmp_path):
    (tmp_path / "sub").mkdir()
    build_wastickers(tmp_path / "sub" / "pack.bin")
    (tmp_path / "fake.wastickers").write_bytes(b"RIFF not a zip")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 truncated")
    stickers, errors = split(iter_stickers([tmp_path]))
    assert errors_text(errors) == [
        f"{tmp_path / 'broken.zip'}: not a readable zip archive: File is not a zip file"
    ]
    assert [(s.pack.kind, s.name) for s in stickers] == [
        ("folder", "fake.wastickers"),
        ("wastickers", "tray.png"),
        ("wastickers", "01_Cuppy_smile.webp"),
        ("wastickers", "02_Cuppy_lol.webp"),
        ("wastickers", "03_Cuppy_rofl.webp"),
    ]


def test_zip_bomb_ratio_refused_others_continue(tmp_path):
    arc = tmp_path / "pack.wastickers"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.webp", bytes(4 << 20))  # 4 MB of zeros -> a few KB
        zf.write(CUPPY / "01_Cuppy_smile.webp", "ok.webp")
    csize = zipfile.ZipFile(arc).getinfo("a.webp").compress_size
    assert csize < 10_000
    stickers, errors = split(iter_stickers([arc], limits=Limits(max_archive_ratio=50)))
    assert [s.name for s in stickers] == ["ok.webp"]
    assert errors[0].path == f"{arc}!a.webp"
    assert isinstance(errors[0].error, LimitExceeded)
    kb = f"{csize / 1024:.1f}".removesuffix(".0")
    assert str(errors[0].error) == (
        f"{arc}: member 'a.webp' has compression ratio {(4 << 20) / csize:.0f}:1 (4 MB from {kb} KB; limit 50:1)"
    )


def test_corrupt_member_crc_is_one_error(tmp_path):
    arc = tmp_path / "crc.wastickers"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.webp", b"RIFF0123456789")
        zf.writestr("b.webp", b"RIFFabcdefghij")
    raw = bytearray(arc.read_bytes())
    raw[raw.index(b"RIFF0123") + 5] ^= 0xFF
    arc.write_bytes(bytes(raw))
    stickers, errors = split(iter_stickers([arc]))
    assert [s.data for s in stickers] == [b"RIFFabcdefghij"]
    assert errors_text(errors) == [f"{arc}: member 'a.webp' cannot be read: Bad CRC-32 for file 'a.webp'"]


def patch_declared_size(arc: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size of ``member`` in both zip headers (a lying header)."""
    raw = bytearray(arc.read_bytes())
    info = zipfile.ZipFile(arc).getinfo(member)
    raw[info.header_offset + 22 : info.header_offset + 26] = size.to_bytes(4, "little")
    cd = raw.index(b"PK\x01\x02")
    while raw[cd + 46 : cd + 46 + len(member)] != member.encode():
        cd = raw.index(b"PK\x01\x02", cd + 4)
    raw[cd + 24 : cd + 28] = size.to_bytes(4, "little")
    arc.write_bytes(bytes(raw))


def test_declared_size_and_totals_refused(tmp_path):
    arc = tmp_path / "pack.wastickers"
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.webp", b"0123456789")
        zf.write(CUPPY / "01_Cuppy_smile.webp", "ok.webp")
    patch_declared_size(arc, "a.webp", 2_254_857_830)
    _, errors = split(iter_stickers([arc]))
    assert errors_text(errors) == [
        f"{arc}: archive would expand to 2.1 GB in 2 members (limit 512 MB)"
    ]
    stickers, errors = split(iter_stickers([arc], limits=Limits(max_archive_bytes=4 << 30)))
    assert errors_text(errors) == [f"{arc}: member 'a.webp' would expand to 2.1 GB (limit 64 MB)"]
    assert [s.name for s in stickers] == ["ok.webp"]
    _, errors = split(iter_stickers([arc], limits=Limits(max_archive_members=1)))
    assert errors_text(errors) == [f"{arc}: archive has 2 members (limit 1)"]


def test_huge_central_directory_refused_before_parsing(tmp_path):
    arc = tmp_path / "many.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        for i in range(40):
            zf.writestr(f"{i:02}.webp", b"")
    _, errors = split(iter_stickers([arc], limits=Limits(max_archive_members=10)))
    assert errors_text(errors) == [f"{arc}: archive declares 40 entries (limit 10 members)"]


def test_path_traversal_members_refused(tmp_path):
    arc = tmp_path / "evil.wastickers"
    with zipfile.ZipFile(arc, "w") as zf:
        for name in ("../evil.webp", "/abs.webp", "dir\\x.webp", "a/../../b.webp", "ok/fine.webp"):
            zf.writestr(name, b"RIFF")
    stickers, errors = split(iter_stickers([arc]))
    assert [s.path for s in stickers] == [f"{arc}!ok/fine.webp"]
    suffix = "has an unsafe path (absolute, drive, '..' or backslash)"
    assert errors_text(errors) == [
        f"{arc}: member '../evil.webp' {suffix}",
        f"{arc}: member '/abs.webp' {suffix}",
        f"{arc}: member 'dir\\\\x.webp' {suffix}",
        f"{arc}: member 'a/../../b.webp' {suffix}",
    ]
    assert [e.path for e in errors][0] == f"{arc}!../evil.webp"


# --- Signal ------------------------------------------------------------------------------


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 with the standard library, independent of the code under test."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


def signal_encrypt(pack_key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    keys = hkdf_sha256(pack_key, bytes(32), b"Sticker Pack", 64)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(keys[:32]), modes.CBC(iv)).encryptor()
    body = iv + enc.update(padded) + enc.finalize()
    return body + hmac.new(keys[32:], body, hashlib.sha256).digest()


def ld(field: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (payloads here are < 128 bytes)."""
    assert len(payload) < 128
    return bytes([field << 3 | 2, len(payload)]) + payload


def sticker_msg(sid: int, emoji: str) -> bytes:
    return bytes([0x08, sid]) + ld(2, emoji.encode()) + ld(3, b"image/webp")


PACK_ID = "9acc9e8aba563d26a4994e69263e3b25"
PACK_KEY = bytes(range(32))
CUPPY_FILES = ["01_Cuppy_smile.webp", "02_Cuppy_lol.webp", "03_Cuppy_rofl.webp"]


def build_signal_pack(root: Path, *, flat: bool = False) -> Path:
    folder = root / PACK_ID
    blobs = folder if flat else folder / "full"
    blobs.mkdir(parents=True)
    manifest = (
        ld(1, b"Cuppy") + ld(2, b"Jane Doe") + ld(3, bytes([0x08, 7]))
        + b"".join(ld(4, sticker_msg(i, e)) for i, e in enumerate(["☕", "😄", "😆"]))
    )
    (folder / "manifest").write_bytes(signal_encrypt(PACK_KEY, manifest, bytes(16)))
    for i, name in enumerate(CUPPY_FILES):
        (blobs / str(i)).write_bytes(signal_encrypt(PACK_KEY, (CUPPY / name).read_bytes(), bytes([i]) * 16))
    (blobs / "7").write_bytes(signal_encrypt(PACK_KEY, (CUPPY / "tray_Cuppy.png").read_bytes(), bytes(16)))
    return folder


@pytest.mark.parametrize("flat", [False, True])
def test_signal_pack_decrypts_to_original_bytes(tmp_path, flat):
    folder = build_signal_pack(tmp_path, flat=flat)
    stickers, errors = split(iter_stickers([tmp_path], signal_keys={PACK_ID: PACK_KEY.hex()}))
    assert errors == []
    assert [(s.sticker_id, s.emojis, s.is_tray) for s in stickers] == [
        ("7", (), True), ("0", ("☕",), False), ("1", ("😄",), False), ("2", ("😆",), False),
    ]
    assert sha(stickers[0].data) == "30f46d038ce69fb6d1bf37a51c3f793be4415ff842853f8d5096cea841258479"
    assert [sha(s.data) for s in stickers[1:]] == [sha((CUPPY / n).read_bytes()) for n in CUPPY_FILES]
    assert sha(stickers[1].data) == "4d9b694cfe50d14aa39c3084b8bc472843135990b953f2c8a7a073ffaf5e2198"
    assert stickers[1].path == str(folder / ("0" if flat else "full/0"))
    assert stickers[1].pack == PackInfo(
        kind="signal", identifier=PACK_ID, name="Cuppy", publisher="Jane Doe", source=str(folder)
    )


def test_signal_key_by_folder_path_wrong_key_missing_key_and_tamper(tmp_path):
    folder = build_signal_pack(tmp_path)
    items = list(iter_stickers([folder], signal_keys={str(folder): PACK_KEY.hex()}))
    assert len(items) == 4 and all(isinstance(i, Sticker) for i in items)

    _, errors = split(iter_stickers([folder], signal_keys={PACK_ID: "11" * 32}))
    assert errors_text(errors) == [f"{folder / 'manifest'}: MAC mismatch: wrong pack key or tampered blob"]

    _, errors = split(iter_stickers([folder]))
    assert errors_text(errors) == [f"{folder}: Signal pack needs its key (--signal-key)"]

    _, errors = split(iter_stickers([folder], signal_keys={PACK_ID: "abcd"}))
    assert errors_text(errors) == [f"{folder}: Signal pack key must be 64 hex chars (32 bytes), got 4 chars"]

    blob = folder / "full" / "1"
    raw = bytearray(blob.read_bytes())
    raw[40] ^= 1
    blob.write_bytes(bytes(raw))
    stickers, errors = split(iter_stickers([folder], signal_keys={PACK_ID: PACK_KEY.hex()}))
    assert [s.sticker_id for s in stickers] == ["7", "0", "2"]
    assert errors_text(errors) == [f"{blob}: MAC mismatch: wrong pack key or tampered blob"]


# --- Telegram ------------------------------------------------------------------------------


def test_telegram_set_json_maps_by_file_unique_id_then_order(tmp_path):
    folder = tmp_path / "tg"
    folder.mkdir()
    shutil.copy(TGS / "phone.tgs", folder / "AgADphone.tgs")
    shutil.copy(TGS / "search.tgs", folder / "b_search.tgs")
    shutil.copy(TGS / "writing.tgs", folder / "c_writing.tgs")
    shutil.copy(TGS / "no_chats.tgs", folder / "file_12.tgs")
    doc = {"ok": True, "result": {
        "name": "UtyaDuck", "title": "Utya Duck", "sticker_type": "regular", "is_animated": True,
        "stickers": [
            {"file_id": "CAAC1", "file_unique_id": "AgADsearch", "emoji": "🔎"},
            {"file_id": "CAAC2", "file_unique_id": "AgADphone", "emoji": "📱"},
            {"file_id": "CAAC3", "file_unique_id": "AgADwriting", "emoji": "✍"},
            {"file_id": "CAAC5", "file_unique_id": "AgADnochats", "emoji": "💬", "file_path": "stickers/file_12.tgs"},
            {"file_id": "CAAC4", "file_unique_id": "AgADmissing", "emoji": "❓"},
        ]}}
    (folder / "set.json").write_text(json.dumps(doc), encoding="utf-8")
    stickers, errors = split(iter_stickers([folder]))
    assert [(s.name, s.sticker_id, s.emojis) for s in stickers] == [
        ("AgADphone.tgs", "AgADphone", ("📱",)),
        ("b_search.tgs", "AgADsearch", ("🔎",)),
        ("c_writing.tgs", "AgADwriting", ("✍",)),
        ("file_12.tgs", "AgADnochats", ("💬",)),
    ]
    assert stickers[0].pack == PackInfo(
        kind="telegram", identifier="UtyaDuck", name="Utya Duck", animated=True, source=str(folder)
    )
    assert sha(stickers[0].data) == sha((TGS / "phone.tgs").read_bytes())
    assert errors_text(errors) == [
        f"{folder / 'set.json'}: stickers[4]: no file for file_unique_id 'AgADmissing'"
    ]


def test_tgs_folder_without_json_is_plain_folder():
    stickers, errors = split(iter_stickers([TGS]))
    assert errors == []
    assert [s.name for s in stickers] == [
        "NOTICE", "collectible_phone.tgs", "dice_slot_2_idle.tgs", "no_chats.tgs", "palette.tgs", "phone.tgs", "search.tgs", "writing.tgs",
    ]
    assert stickers[1].pack == PackInfo(kind="folder", identifier=str(TGS), name="telegram-tgs", source=str(TGS))


# --- plain folders and single files ------------------------------------------------------


def test_plain_folder_recursion_hidden_size_symlinks_and_fifo(tmp_path):
    top = tmp_path / "top"
    (top / "b" / "c").mkdir(parents=True)
    shutil.copy(CUPPY / "01_Cuppy_smile.webp", top / "a.webp")
    shutil.copy(CUPPY / "tray_Cuppy.png", top / "b" / "c" / "t.png")
    (top / ".hidden.webp").write_bytes(b"x")
    (top / ".git").mkdir()
    (top / ".git" / "x.webp").write_bytes(b"x")
    (top / "b" / "big.bin").write_bytes(bytes(40_000))
    (tmp_path / "outside.webp").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.webp", top / "b" / "out.webp")
    os.symlink(top, top / "b" / "c" / "loop")  # a loop back to the top: walked once
    os.symlink(top / "a.webp", top / "b" / "inside.webp")  # stays inside: followed
    os.mkfifo(top / "b" / "pipe")  # must not block the walk
    limits = Limits(max_file_bytes=32 * 1024)
    stickers, errors = split(iter_stickers([top, tmp_path / "nope.webp"], limits=limits))
    assert [(s.path, s.pack.identifier, s.pack.name) for s in stickers] == [
        (str(top / "a.webp"), str(top), "top"),
        (str(top / "b" / "inside.webp"), str(top / "b"), "b"),
        (str(top / "b" / "c" / "t.png"), str(top / "b" / "c"), "c"),
    ]
    assert {s.pack.kind for s in stickers} == {"folder"}
    assert stickers[0].data == stickers[1].data == (CUPPY / "01_Cuppy_smile.webp").read_bytes()
    assert errors_text(errors) == [
        f"{top / 'b' / 'out.webp'}: symlink leaves the scanned tree: -> '{tmp_path / 'outside.webp'}'",
        f"{top / 'b' / 'pipe'}: not a regular file (device, FIFO or socket)",
        f"{top / 'b' / 'big.bin'}: file is 39.1 KB (40000 bytes; limit 32 KB)",
        f"{tmp_path / 'nope.webp'}: no such file or directory",
    ]
    assert isinstance(errors[2].error, LimitExceeded) and errors[2].error.field == "max_file_bytes"


def test_single_file_is_pack_kind_file():
    path = CUPPY / "01_Cuppy_smile.webp"
    (sticker,) = iter_stickers([str(path)])
    assert sticker == Sticker(
        path=str(path), name="01_Cuppy_smile.webp", data=path.read_bytes(),
        pack=PackInfo(kind="file", identifier=str(path), source=str(path)),
    )
    assert sha(sticker.data) == "4d9b694cfe50d14aa39c3084b8bc472843135990b953f2c8a7a073ffaf5e2198"


def test_packs_nested_in_plain_folder_are_read_as_packs(tmp_path):
    shutil.copytree(WA, tmp_path / "whatsapp")
    build_signal_pack(tmp_path / "signal")
    build_wastickers(tmp_path / "x.wastickers")
    items = list(iter_stickers([tmp_path], signal_keys={PACK_ID: PACK_KEY.hex()}))
    stickers, errors = split(items)
    assert errors == []
    kinds: dict[str, int] = {}
    for s in stickers:
        kinds[s.pack.kind] = kinds.get(s.pack.kind, 0) + 1
    assert kinds == {"wastickers": 4, "signal": 4, "whatsapp": 48, "folder": 2}
    assert [s.pack.kind for s in stickers][:4] == ["wastickers"] * 4  # files before subfolders


def test_read_capped_sees_a_file_grow_past_its_stat_size(tmp_path, monkeypatch):
    """read_capped asks for the stat size, not the cap; a file that grew after the stat
    is still read to the end, and refused once it passes the cap."""
    from stickerguard.errors import LimitExceeded
    from stickerguard.media import packfs
    from stickerguard.media.limits import DEFAULT_LIMITS

    f = tmp_path / "grows.webp"
    f.write_bytes(bytes(range(100)))
    real = packfs.check_entry

    def stale(path, ctx):  # the stat taken before 90 more bytes were appended
        st = real(path, ctx)
        return os.stat_result((st.st_mode, *st[1:6], 10, *st[7:]))

    monkeypatch.setattr(packfs, "check_entry", stale)
    ctx = packfs.WalkContext(limits=DEFAULT_LIMITS, root=tmp_path)
    assert packfs.read_capped(f, ctx, limit=150) == bytes(range(100))
    assert packfs.read_capped(f, ctx, limit=100) == bytes(range(100))
    with pytest.raises(LimitExceeded) as exc:
        packfs.read_capped(f, ctx, limit=50)
    assert exc.value.field == "max_file_bytes"
    assert str(exc.value) == f"{f}: file grew past the limit while reading (50 B)"
