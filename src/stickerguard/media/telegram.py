"""Read a Telegram sticker-set folder: sticker files plus a Bot API StickerSet JSON.

A folder is a Telegram set when it holds a JSON file whose top level is an object with
``"name"``, ``"title"`` and a ``"stickers"`` list (the Bot API ``getStickerSet`` result,
or ``{"ok": true, "result": {...}}`` around it). ``set.json`` and ``stickerset.json``
are tried first, then every other ``*.json`` in name order; the first match wins. A
folder without such a JSON (e.g. only ``.tgs`` files) is a plain folder (kind
``folder``).

Mapping JSON entries to files. The Bot API gives no local file name, so for each
``stickers[i]`` (``file_unique_id``, ``emoji``), in this order:

1. the file whose stem equals ``file_unique_id`` (``AgADxx.tgs``, ``AgADxx.webp`` ...);
2. the file named by the base name of a ``file_path`` key, when an exporter added one
   (``getFile`` returns e.g. ``stickers/file_12.webp``);
3. otherwise by order: the still-unmatched entries take the still-unmatched
   ``.tgs``/``.webp``/``.webm`` files in sorted name order.

Mapped files get ``emojis=(emoji,)`` and ``sticker_id=file_unique_id``; files with no
entry are still yielded (no emoji, no id); entries left without a file are reported as
``SourceError(PackError)`` naming ``stickers[i]``. PackInfo(kind="telegram",
identifier=set ``name``, name=``title``, animated from ``is_animated``/``is_video`` when
present, source=folder).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..errors import PackError, StickerguardError
from .packfs import Item, WalkContext, list_dir, load_json, read_capped
from .types import PackInfo, SourceError, Sticker

PREFERRED = ("set.json", "stickerset.json")
STICKER_EXTS = (".tgs", ".webp", ".webm")


def _as_set(doc: object) -> dict | None:
    if isinstance(doc, dict) and doc.get("ok") is True and isinstance(doc.get("result"), dict):
        doc = doc["result"]
    if (
        isinstance(doc, dict)
        and isinstance(doc.get("name"), str)
        and isinstance(doc.get("title"), str)
        and isinstance(doc.get("stickers"), list)
    ):
        return doc
    return None


def find_set_json(folder: Path, ctx: WalkContext) -> tuple[Path, dict] | SourceError | None:
    """Find the StickerSet JSON in ``folder``: ``(path, set_object)``, or None.

    JSON files are read capped at ``limits.max_tgs_json_bytes``. A ``set.json`` /
    ``stickerset.json`` that is unreadable or not a StickerSet returns a ``SourceError``
    (the folder is then read as a plain folder); other JSON files that do not parse are
    ignored here (they are yielded as ordinary files).
    """
    files, _, _ = list_dir(folder, ctx)
    jsons = [f for f in files if f.suffix.lower() == ".json"]
    rank = {name: i for i, name in enumerate(PREFERRED)}
    jsons.sort(key=lambda f: (rank.get(f.name.lower(), len(PREFERRED)), f.name))
    for path in jsons:
        preferred = path.name.lower() in PREFERRED
        try:
            doc = load_json(path, ctx, limit=ctx.limits.max_tgs_json_bytes)
        except StickerguardError as exc:
            if preferred:
                return SourceError(str(path), exc)
            continue
        found = _as_set(doc)
        if found is not None:
            return path, found
        if preferred:
            msg = 'not a Bot API StickerSet: needs "name", "title" and a "stickers" list'
            err = PackError(msg, path=str(path))
            return SourceError(str(path), err)
    return None


def _text(entry: dict, key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) and value else None


def _map_entries(
    entries: list, media: list[Path], json_path: Path
) -> tuple[dict[Path, tuple[str | None, str | None]], list[SourceError]]:
    """``{file: (file_unique_id, emoji)}`` by the three rules of the module doc, plus errors."""
    by_stem = {f.stem: f for f in media}
    by_name = {f.name: f for f in media}
    mapping: dict[Path, tuple[str | None, str | None]] = {}
    unmatched: list[int] = []
    problems: list[SourceError] = []

    def problem(i: int, message: str) -> None:
        err = PackError(f"stickers[{i}]: {message}", path=str(json_path), field=f"stickers[{i}]")
        problems.append(SourceError(str(json_path), err))

    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problem(i, f"expected an object, got {type(entry).__name__}")
            continue
        fuid = _text(entry, "file_unique_id")
        target = by_stem.get(fuid) if fuid else None
        fpath = _text(entry, "file_path")
        if target is None and fpath:
            target = by_name.get(PurePosixPath(fpath.replace("\\", "/")).name)
        if target is not None and target not in mapping:
            mapping[target] = (fuid, _text(entry, "emoji"))
        else:
            unmatched.append(i)
    spare = [f for f in media if f not in mapping and f.suffix.lower() in STICKER_EXTS]
    for i, path in zip(unmatched, spare):
        mapping[path] = (_text(entries[i], "file_unique_id"), _text(entries[i], "emoji"))
    for i in unmatched[len(spare):]:
        problem(i, f"no file for file_unique_id {entries[i].get('file_unique_id')!r}")
    return mapping, problems


def read_telegram(folder: Path, found: tuple[Path, dict], ctx: WalkContext) -> Iterator[Item]:
    """Yield the stickers of a Telegram set folder, emojis mapped as in the module doc."""
    json_path, doc = found
    flags = [doc[k] for k in ("is_animated", "is_video") if isinstance(doc.get(k), bool)]
    pack = PackInfo(
        kind="telegram", identifier=doc["name"], name=doc["title"],
        animated=any(flags) if flags else None, source=str(folder),
    )
    files, dirs, errors = list_dir(folder, ctx)
    yield from errors
    media = [f for f in files if f != json_path]
    mapping, problems = _map_entries(doc["stickers"], media, json_path)
    for path in media:
        if path not in mapping:
            yield from ctx.walk_file(path, pack, path.name)
            continue
        fuid, emoji = mapping[path]
        try:
            data = read_capped(path, ctx)
        except StickerguardError as exc:
            yield SourceError(str(path), exc)
            continue
        yield Sticker(path=str(path), name=path.name, data=data, pack=pack,
                      emojis=(emoji,) if emoji else (), sticker_id=fuid)
    yield from problems
    for sub in dirs:
        yield from ctx.walk(sub)
