"""Walk files, folders, archives and sticker packs, yielding stickers with provenance.

Entry point: :func:`iter_stickers`. A path is classified by content, never by its name
alone:

* a folder with ``contents.json`` -> WhatsApp sticker-app folder (:mod:`.whatsapp`);
* a folder with ``manifest`` (or ``manifest.proto``) -> Signal pack (:mod:`.signal_pack`);
* a folder with a Bot API StickerSet JSON -> Telegram set (:mod:`.telegram`);
* any other folder -> plain folder, walked recursively (kind ``folder``);
* a file starting with a zip signature -> ``.wastickers`` archive (:mod:`.archive`);
* any other regular file -> one sticker (kind ``file`` at top level); the hashing stage
  rejects what it cannot decode.

The same classification applies to every subfolder and file met during the walk, so a
pack or archive nested in a plain folder is read as that pack. Within a folder, hidden
entries are skipped, files come first then subfolders, each sorted by name. Symlinks are
followed only while they stay inside the top-level path; each directory is walked once
(by real path), so loops end. Nothing raises for bad input: each problem is yielded as a
:class:`~stickerguard.media.types.SourceError` and the walk goes on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import PackError, StickerguardError
from . import archive, signal_pack, telegram, whatsapp
from .limits import DEFAULT_LIMITS, Limits
from .packfs import Item, WalkContext, check_entry, is_zip_file, list_dir, read_capped
from .types import PackInfo, SourceError, Sticker


def iter_stickers(
    paths: Iterable[str | Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    signal_keys: dict[str, str] | None = None,
) -> Iterator[Sticker | SourceError]:
    """Yield every sticker (raw bytes + pack provenance) found under ``paths``.

    Args:
        paths: files and folders, read in the order given; everything found inside a
            folder is read in sorted order (files, then subfolders).
        limits: safety limits (file size, archive members/bytes/ratio).
        signal_keys: Signal pack keys as 64 hex chars (32 bytes), keyed by the pack
            folder path as it appears in the walk (e.g. ``"packs/abc"``), its resolved
            absolute path, or the pack id (the folder name).

    Yields:
        ``Sticker`` for each file, archive member or decrypted Signal blob, and
        ``SourceError`` (``error`` is a ``PackError`` / ``LimitExceeded``) for each path,
        manifest field or member that could not be read. Never raises for bad input.
    """
    keys = dict(signal_keys or {})
    for raw in paths:
        path = Path(raw)
        ctx = WalkContext(limits=limits, root=Path(os.path.realpath(path)), signal_keys=keys)
        ctx.walk = lambda p, _ctx=ctx: walk_path(p, _ctx)
        ctx.walk_file = lambda p, pack, name, _ctx=ctx: walk_file(p, pack, name, _ctx)
        try:
            st = check_entry(path, ctx)
        except PackError as exc:
            yield SourceError(str(path), exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from walk_dir(path, ctx)
        elif stat.S_ISREG(st.st_mode):
            pack = PackInfo(kind="file", identifier=str(path), source=str(path))
            yield from walk_file(path, pack, path.name, ctx)
        else:
            err = PackError("not a regular file (device, FIFO or socket)", path=str(path))
            yield SourceError(str(path), err)


def walk_path(path: Path, ctx: WalkContext) -> Iterator[Item]:
    """Read one path met during a walk: folders are classified, files join their folder."""
    try:
        st = check_entry(path, ctx)
    except PackError as exc:
        yield SourceError(str(path), exc)
        return
    if stat.S_ISDIR(st.st_mode):
        yield from walk_dir(path, ctx)
    else:
        yield from walk_file(path, folder_pack(path.parent), path.name, ctx)


def folder_pack(folder: Path) -> PackInfo:
    """PackInfo of a plain folder: kind ``folder``, identifier and source = its path."""
    return PackInfo(kind="folder", identifier=str(folder), name=folder.name, source=str(folder))


def walk_dir(folder: Path, ctx: WalkContext) -> Iterator[Item]:
    """Classify ``folder`` (WhatsApp, Signal, Telegram or plain) and read it once."""
    real = Path(os.path.realpath(folder))
    if real in ctx.visited:
        return
    ctx.visited.add(real)
    if whatsapp.is_whatsapp_folder(folder):
        yield from whatsapp.read_whatsapp(folder, ctx)
        return
    if signal_pack.is_signal_folder(folder):
        yield from signal_pack.read_signal(folder, ctx)
        return
    found = telegram.find_set_json(folder, ctx)
    if isinstance(found, SourceError):
        yield found
    elif found is not None:
        yield from telegram.read_telegram(folder, found, ctx)
        return
    yield from walk_plain(folder, ctx)


def walk_plain(folder: Path, ctx: WalkContext) -> Iterator[Item]:
    """Read a plain folder: its files as pack ``folder``, then each subfolder classified."""
    files, dirs, errors = list_dir(folder, ctx)
    yield from errors
    pack = folder_pack(folder)
    for path in files:
        yield from walk_file(path, pack, path.name, ctx)
    for sub in dirs:
        yield from walk_dir(sub, ctx)


def walk_file(path: Path, pack: PackInfo, name: str, ctx: WalkContext) -> Iterator[Item]:
    """Yield one file as a Sticker of ``pack``, or open it as an archive when it is a zip.

    Size above ``limits.max_file_bytes`` -> ``SourceError(LimitExceeded)``.
    """
    try:
        st = check_entry(path, ctx)
        if not stat.S_ISREG(st.st_mode):
            raise PackError("not a regular file (device, FIFO or socket)", path=str(path))
        if is_zip_file(path):
            yield from archive.read_archive(path, ctx)
            return
        data = read_capped(path, ctx)
    except StickerguardError as exc:
        yield SourceError(str(path), exc)
        return
    yield Sticker(path=str(path), name=name, data=data, pack=pack)
