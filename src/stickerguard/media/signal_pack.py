"""Read a Signal sticker pack: an encrypted ``manifest`` plus encrypted sticker blobs.

Layout (as Signal's CDN stores ``stickers/<packId>/...``): ``manifest`` (or
``manifest.proto``) and the sticker blobs named by sticker id, either under ``full/``
(``full/0``, ``full/1`` ...) or flat next to the manifest (``0``, ``1`` ...).

Crypto (Signal ``StickerPack`` / attachment cipher): the 32-byte pack key (64 hex chars)
goes through HKDF-SHA256(salt = 32 zero bytes, info = ``b"Sticker Pack"``, 64 bytes);
the first 32 bytes are the AES-256-CBC key, the last 32 the HMAC-SHA256 key. Each blob is
``IV(16) || ciphertext || MAC(32)`` with MAC = HMAC(IV || ciphertext); the MAC is
verified (constant time, ``cryptography``'s ``HMAC.verify``) before anything is
decrypted, then AES-CBC and PKCS#7 unpadding give the plaintext.

The manifest plaintext is Signal's ``StickerResources.proto`` ``Pack`` message::

    message Pack {
      message Sticker { optional uint32 id = 1; optional string emoji = 2;
                        optional string contentType = 3; }
      optional string title = 1; optional string author = 2;
      optional Sticker cover = 3; repeated Sticker stickers = 4;
    }

built at import time from a ``FileDescriptorProto`` (no protoc step, no generated code).

Order: the cover (``is_tray=True``) when its id is not also a sticker, the stickers in
manifest order (``emojis=(emoji,)``, ``sticker_id=str(id)``), then blobs the manifest
does not list (decrypted the same way; no emoji). PackInfo(kind="signal", identifier =
the folder name (the pack id), name=title, publisher=author, source=folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtoDecodeError

from ..errors import PackError, StickerguardError
from .packfs import Item, WalkContext, list_dir, read_capped
from .types import PackInfo, SourceError, Sticker

MANIFEST_NAMES = ("manifest", "manifest.proto")
IV_LEN, MAC_LEN, KEY_HEX_LEN = 16, 32, 64


def _build_pack_class() -> type:
    """Build the ``signalservice.Pack`` message class from a hand-written descriptor."""
    f = descriptor_pb2.FileDescriptorProto(
        name="stickerguard_signal_sticker_resources.proto", package="stickerguard.signal", syntax="proto2"
    )
    pack = f.message_type.add(name="Pack")
    sticker = pack.nested_type.add(name="Sticker")
    T = L = descriptor_pb2.FieldDescriptorProto
    sticker.field.add(name="id", number=1, type=T.TYPE_UINT32, label=L.LABEL_OPTIONAL)
    sticker.field.add(name="emoji", number=2, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    sticker.field.add(name="contentType", number=3, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    sticker_type = ".stickerguard.signal.Pack.Sticker"
    pack.field.add(name="title", number=1, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    pack.field.add(name="author", number=2, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    pack.field.add(name="cover", number=3, type=T.TYPE_MESSAGE, label=L.LABEL_OPTIONAL,
                   type_name=sticker_type)
    pack.field.add(name="stickers", number=4, type=T.TYPE_MESSAGE, label=L.LABEL_REPEATED,
                   type_name=sticker_type)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("stickerguard.signal.Pack"))


PackMessage = _build_pack_class()
"""Message class for Signal's sticker-pack manifest (``Pack``); ``PackMessage.FromString``."""


def derive_keys(pack_key: bytes) -> tuple[bytes, bytes]:
    """``(aes_key, mac_key)``, 32 bytes each, from a 32-byte pack key via HKDF-SHA256."""
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=bytes(32), info=b"Sticker Pack").derive(pack_key)
    return okm[:32], okm[32:]


def parse_pack_key(hex_key: str, *, path: str) -> bytes:
    """Decode a Signal pack key given as 64 hex chars; raises ``PackError`` otherwise."""
    text = hex_key.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(text) != KEY_HEX_LEN or len(key) != 32:
        raise PackError(f"Signal pack key must be 64 hex chars (32 bytes), got {len(text)} chars", path=path)
    return key


def decrypt_blob(blob: bytes, aes_key: bytes, mac_key: bytes, *, path: str) -> bytes:
    """Verify and decrypt one ``IV || ciphertext || MAC`` blob; returns the plaintext.

    Raises ``PackError``: blob too short or not block-aligned, ``"MAC mismatch: wrong
    pack key or tampered blob"``, or bad padding (only reachable with a valid MAC).
    """
    minimum = IV_LEN + 16 + MAC_LEN
    if len(blob) < minimum:
        raise PackError(f"encrypted blob is {len(blob)} bytes (need at least {minimum})", path=path)
    body, mac = blob[:-MAC_LEN], blob[-MAC_LEN:]
    h = hmac.HMAC(mac_key, hashes.SHA256())
    h.update(body)
    try:
        h.verify(mac)
    except InvalidSignature:
        raise PackError("MAC mismatch: wrong pack key or tampered blob", path=path) from None
    iv, ciphertext = body[:IV_LEN], body[IV_LEN:]
    if len(ciphertext) % 16:
        raise PackError(f"ciphertext is {len(ciphertext)} bytes, not a multiple of 16", path=path)
    dec = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = dec.update(ciphertext) + dec.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise PackError("bad PKCS#7 padding after a valid MAC", path=path) from None


def is_signal_folder(folder: Path) -> bool:
    """True when ``folder`` holds a ``manifest`` (or ``manifest.proto``) file."""
    return any((folder / n).is_file() for n in MANIFEST_NAMES)


def _find_key(folder: Path, keys: dict[str, str]) -> str | None:
    for candidate in (str(folder), str(folder.resolve()), folder.name):
        if candidate in keys:
            return keys[candidate]
    return None


def read_signal(folder: Path, ctx: WalkContext) -> Iterator[Item]:
    """Decrypt and yield the stickers of a Signal pack folder (see module doc).

    Without a key in ``ctx.signal_keys``: one ``SourceError`` "Signal pack needs its key
    (--signal-key)"; a manifest that fails its MAC or does not parse: one
    ``SourceError`` and nothing else; a blob that fails: a ``SourceError`` naming it.
    """
    shown = str(folder)
    manifest_path = next(folder / n for n in MANIFEST_NAMES if (folder / n).is_file())
    hex_key = _find_key(folder, ctx.signal_keys)
    try:
        if hex_key is None:
            raise PackError("Signal pack needs its key (--signal-key)", path=shown)
        aes_key, mac_key = derive_keys(parse_pack_key(hex_key, path=shown))
        # Blobs carry up to 15 padding bytes, the IV and the MAC on top of the sticker.
        overhead = IV_LEN + 16 + MAC_LEN
        raw = read_capped(manifest_path, ctx, limit=ctx.limits.max_file_bytes + overhead)
        plain = decrypt_blob(raw, aes_key, mac_key, path=str(manifest_path))
        try:
            manifest = PackMessage.FromString(plain)
        except (ProtoDecodeError, RecursionError) as exc:
            raise PackError(
                f"manifest is not a valid sticker Pack protobuf: {exc}", path=str(manifest_path)
            ) from None
    except StickerguardError as exc:
        yield SourceError(shown, exc)
        return
    pack = PackInfo(kind="signal", identifier=folder.name, name=manifest.title or None,
                    publisher=manifest.author or None, source=shown)
    blobs, errors, other_dirs = _blob_files(folder, ctx)
    yield from errors
    order: list[tuple[int, str, bool]] = []
    sticker_ids = {s.id for s in manifest.stickers}
    if manifest.HasField("cover") and manifest.cover.id not in sticker_ids:
        order.append((manifest.cover.id, manifest.cover.emoji, True))
    order += [(s.id, s.emoji, False) for s in manifest.stickers]
    done: set[str] = set()
    for sid, emoji, is_tray in order:
        name = str(sid)
        if name in done:
            continue
        done.add(name)
        path = blobs.get(name)
        if path is None:
            msg = f"blob for sticker id {sid} not found (looked for full/{sid} and {sid})"
            err = PackError(msg, path=shown)
            yield SourceError(shown, err)
            continue
        yield from _decrypt_file(path, name, pack, emoji, is_tray, aes_key, mac_key, overhead, ctx)
    for name, path in blobs.items():
        if name not in done:
            yield from _decrypt_file(path, name, pack, "", False, aes_key, mac_key, overhead, ctx)
    for sub in other_dirs:
        yield from ctx.walk(sub)


def _blob_files(folder: Path, ctx: WalkContext) -> tuple[dict[str, Path], list[SourceError], list[Path]]:
    """``(blob name -> path, listing errors, other subfolders)``; ``full/<id>`` wins over flat."""
    blobs: dict[str, Path] = {}
    files, dirs, errors = list_dir(folder, ctx)
    for path in files:
        if path.name not in MANIFEST_NAMES:
            blobs[path.name] = path
    full = folder / "full"
    if full in dirs:
        dirs.remove(full)
        ctx.visited.add(full.resolve())
        ffiles, fdirs, ferrors = list_dir(full, ctx)
        errors += ferrors
        dirs += fdirs
        for path in ffiles:
            blobs[path.name] = path
    return blobs, errors, dirs


def _decrypt_file(path: Path, name: str, pack: PackInfo, emoji: str, is_tray: bool,
                  aes_key: bytes, mac_key: bytes, overhead: int, ctx: WalkContext) -> Iterator[Item]:
    try:
        raw = read_capped(path, ctx, limit=ctx.limits.max_file_bytes + overhead)
        data = decrypt_blob(raw, aes_key, mac_key, path=str(path))
    except StickerguardError as exc:
        yield SourceError(str(path), exc)
        return
    yield Sticker(path=str(path), name=name, data=data, pack=pack,
                  emojis=(emoji,) if emoji else (), sticker_id=name, is_tray=is_tray)
