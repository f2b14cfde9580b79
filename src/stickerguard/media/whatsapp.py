"""Read a WhatsApp sticker-app folder: ``contents.json`` plus one subfolder per pack.

Layout (WhatsApp's sample sticker app, ``assets/``)::

    contents.json          {"sticker_packs": [{"identifier": "1", "name", "publisher",
    1/tray_Cuppy.png         "tray_image_file", "animated_sticker_pack"?,
    1/01_Cuppy_smile.webp    "stickers": [{"image_file", "emojis": [...]}, ...]}, ...]}

Order: for each pack in manifest order, the tray (``is_tray=True``), the listed stickers
in manifest order (with their emojis), then files in the pack folder the manifest does
not list (sorted, no emojis; an attacker will not keep a manifest honest). Anything else
in the folder (other subfolders, LICENSE...) is then walked like a plain folder.

Manifest defects never stop the scan: each becomes a ``SourceError`` whose error is a
``PackError`` with ``path`` = the contents.json path and ``field`` = the JSON path, e.g.
``.../contents.json: sticker_packs[0].stickers[3].image_file: file '04.webp' not found``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..errors import PackError, StickerguardError
from .packfs import Item, WalkContext, check_entry, list_dir, load_json, read_capped
from .types import PackInfo, SourceError, Sticker

MANIFEST = "contents.json"


def is_whatsapp_folder(folder: Path) -> bool:
    """True when ``folder`` holds a ``contents.json`` file (not its validity)."""
    return (folder / MANIFEST).is_file()


def _safe_name(value: str) -> bool:
    """A manifest file name must be one plain path component (no traversal)."""
    return value not in ("", ".", "..") and "/" not in value and "\\" not in value and "\0" not in value


class _Manifest:
    """Collects field errors against one contents.json."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, field: str, message: str) -> SourceError:
        err = PackError(f"{field}: {message}", path=str(self.path), field=field)
        return SourceError(str(self.path), err)

    def string(self, obj: dict, key: str, field: str, errors: list, required: bool = True) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                errors.append(self.error(f"{field}.{key}", "missing required field"))
            return None
        if not isinstance(value, str):
            errors.append(self.error(f"{field}.{key}", f"expected a string, got {type(value).__name__}"))
            return None
        return value


def read_whatsapp(folder: Path, ctx: WalkContext) -> Iterator[Item]:
    """Yield the stickers (and tray icons) of every pack in a WhatsApp sticker-app folder.

    PackInfo: kind ``whatsapp``, identifier/name/publisher from the manifest, animated =
    ``animated_sticker_pack`` (None when absent), source = ``folder``.
    """
    manifest_path = folder / MANIFEST
    m = _Manifest(manifest_path)
    claimed: set[str] = {MANIFEST}
    try:
        doc = load_json(manifest_path, ctx)
    except StickerguardError as exc:
        yield SourceError(str(manifest_path), exc)
        doc = None
    packs = doc.get("sticker_packs") if isinstance(doc, dict) else None
    if doc is not None and not isinstance(doc, dict):
        yield m.error("$", f"expected a JSON object, got {type(doc).__name__}")
    elif isinstance(doc, dict) and not isinstance(packs, list):
        got = "nothing" if packs is None else type(packs).__name__
        yield m.error("sticker_packs", f"expected a list of packs, got {got}")
    for index, entry in enumerate(packs if isinstance(packs, list) else []):
        yield from _read_pack(folder, index, entry, m, claimed, ctx)
    files, dirs, errors = list_dir(folder, ctx)
    yield from errors
    for path in files:
        if path.name not in claimed:
            yield from ctx.walk(path)
    for sub in dirs:
        if sub.name not in claimed:
            yield from ctx.walk(sub)


def _read_pack(
    folder: Path, index: int, entry: object, m: _Manifest, claimed: set[str], ctx: WalkContext
) -> Iterator[Item]:
    field = f"sticker_packs[{index}]"
    if not isinstance(entry, dict):
        yield m.error(field, f"expected an object, got {type(entry).__name__}")
        return
    errors: list[SourceError] = []
    ident = m.string(entry, "identifier", field, errors)
    name = m.string(entry, "name", field, errors)
    publisher = m.string(entry, "publisher", field, errors)
    tray = m.string(entry, "tray_image_file", field, errors)
    animated = entry.get("animated_sticker_pack")
    if animated is not None and not isinstance(animated, bool):
        errors.append(m.error(f"{field}.animated_sticker_pack", f"expected true/false, got {animated!r}"))
        animated = None
    stickers = entry.get("stickers")
    if not isinstance(stickers, list):
        got = type(stickers).__name__
        msg = "missing required field" if stickers is None else f"expected a list, got {got}"
        errors.append(m.error(f"{field}.stickers", msg))
        stickers = []
    if ident is not None and not _safe_name(ident):
        errors.append(m.error(f"{field}.identifier", f"not a plain folder name: {ident!r}"))
        ident = None
    elif ident is not None and ident in claimed:
        errors.append(m.error(f"{field}.identifier", f"duplicate identifier {ident!r}"))
        ident = None
    pack_dir = folder / ident if ident is not None else None
    if pack_dir is not None:
        try:
            is_dir = stat.S_ISDIR(check_entry(pack_dir, ctx).st_mode)
        except PackError:
            is_dir = False
        if not is_dir:
            errors.append(m.error(f"{field}.identifier", f"folder {ident!r} not found"))
            pack_dir = None
    yield from errors
    if pack_dir is None:
        return  # its folder (if any) is walked as a plain folder by the caller
    claimed.add(ident)
    ctx.visited.add(Path(pack_dir).resolve())
    pack = PackInfo(
        kind="whatsapp", identifier=ident, name=name, publisher=publisher,
        animated=animated, source=str(folder),
    )
    listed: set[str] = set()
    if tray is not None:
        yield from _listed_file(pack_dir, tray, f"{field}.tray_image_file", pack, (), True, m, listed, ctx)
    for i, item in enumerate(stickers):
        sfield = f"{field}.stickers[{i}]"
        if not isinstance(item, dict):
            yield m.error(sfield, f"expected an object, got {type(item).__name__}")
            continue
        errs: list[SourceError] = []
        image = m.string(item, "image_file", sfield, errs)
        emojis = item.get("emojis", [])
        if not isinstance(emojis, list) or not all(isinstance(e, str) for e in emojis):
            errs.append(m.error(f"{sfield}.emojis", f"expected a list of strings, got {emojis!r}"))
            emojis = []
        yield from errs
        if image is not None:
            yield from _listed_file(
                pack_dir, image, f"{sfield}.image_file", pack, tuple(emojis), False, m, listed, ctx
            )
    files, dirs, errors2 = list_dir(pack_dir, ctx)
    yield from errors2
    for path in files:
        if path.name not in listed:
            yield from ctx.walk_file(path, pack, path.name)
    for sub in dirs:
        yield from ctx.walk(sub)


def _listed_file(
    pack_dir: Path, name: str, field: str, pack: PackInfo, emojis: tuple[str, ...],
    is_tray: bool, m: _Manifest, listed: set[str], ctx: WalkContext,
) -> Iterator[Item]:
    if not _safe_name(name):
        yield m.error(field, f"not a plain file name: {name!r}")
        return
    path = pack_dir / name
    if name in listed:
        return  # listed twice (e.g. tray reused as a sticker): yield the bytes once
    if not os.path.lexists(path):
        yield m.error(field, f"file {name!r} not found")
        return
    listed.add(name)
    try:
        data = read_capped(path, ctx)
    except StickerguardError as exc:
        yield SourceError(str(path), exc)
        return
    yield Sticker(path=str(path), name=name, data=data, pack=pack, emojis=emojis, is_tray=is_tray)
