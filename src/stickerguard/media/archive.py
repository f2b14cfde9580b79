"""Read ``.wastickers`` archives (and any zip) as a pack of stickers, zip-bomb safe.

A ``.wastickers`` file is a zip of the sticker files plus ``title.txt`` (pack name),
``author.txt`` (publisher) and a tray PNG. It is recognised by its zip signature, never
by extension, so every zip met in a walk is treated as a sticker archive.

Safety, all checked from the central directory before any member is decompressed:

* archive level (one ``SourceError`` for the archive, nothing read): not a zip; more
  than ``limits.max_archive_members`` members; total declared uncompressed size above
  ``limits.max_archive_bytes``;
* member level (a ``SourceError`` for that member, the rest continue): absolute names,
  drive letters, ``..`` components or backslashes; encrypted members; a declared size
  above ``limits.max_file_bytes``; a compression ratio above
  ``limits.max_archive_ratio``.

Reads are capped at the declared size (and ``max_file_bytes``) and the running total at
``max_archive_bytes``, so lying headers cannot expand further. Nested zips are not
opened: they are yielded as files (hashing then rejects them as unsupported).

Stickers: path ``<archive>!<member>``, name = member name, PackInfo(kind="wastickers",
identifier=archive file stem, name=title.txt, publisher=author.txt, source=archive).
Members whose base name starts with ``tray`` are flagged ``is_tray``. ``title.txt`` and
``author.txt`` are metadata and are not yielded.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from ..errors import LimitExceeded, PackError, StickerguardError
from .packfs import Item, WalkContext, human_bytes
from .types import PackInfo, SourceError, Sticker

META_FILES = ("title.txt", "author.txt")
META_MAX_BYTES = 4096
# What reading one corrupt member raises (zlib.error: a bad deflate stream, e.g. a flipped bit).
_MEMBER_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error)


def _member_problem(info: zipfile.ZipInfo, shown: str, ctx: WalkContext) -> StickerguardError | None:
    """The first safety problem of one member, as an error (message names member, value, limit)."""
    name = info.filename
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or ".." in parts or (len(name) > 1 and name[1] == ":"):
        return PackError(
            f"member {name!r} has an unsafe path (absolute, drive, '..' or backslash)", path=shown
        )
    if info.flag_bits & 0x1:
        return PackError(f"member {name!r} is encrypted", path=shown)
    limits = ctx.limits
    if info.file_size > limits.max_file_bytes:
        return LimitExceeded(
            f"member {name!r} would expand to {human_bytes(info.file_size)} "
            f"(limit {human_bytes(limits.max_file_bytes)})",
            path=shown,
            field="max_file_bytes",
        )
    if info.file_size:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_archive_ratio:
            return LimitExceeded(
                f"member {name!r} has compression ratio {ratio:.0f}:1 "
                f"({human_bytes(info.file_size)} from {human_bytes(info.compress_size)}; "
                f"limit {limits.max_archive_ratio:g}:1)",
                path=shown,
                field="max_archive_ratio",
            )
    return None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, shown: str) -> bytes:
    """Decompress one member, reading at most ``cap`` bytes (+1 to detect overrun)."""
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise LimitExceeded(
            f"member {info.filename!r} expands past {human_bytes(cap)}", path=shown
        )
    return data


def _check_declared_entries(path: Path, shown: str, limit: int) -> None:
    """Refuse an archive whose end-of-central-directory record declares too many entries.

    Runs before ``ZipFile`` builds one ``ZipInfo`` per entry, so a central directory of
    millions of entries cannot exhaust memory. Uses ``zipfile._EndRecData`` (private but
    unchanged since Python 2); if it is ever gone, the later ``infolist`` count still
    applies.
    """
    end_rec = getattr(zipfile, "_EndRecData", None)
    if end_rec is None:
        return
    with open(path, "rb") as fh:
        rec = end_rec(fh)
    if rec is None:
        return  # ZipFile reports "File is not a zip file"
    declared = rec[zipfile._ECD_ENTRIES_TOTAL]
    if declared > limit * 2 + 16:  # directory entries count too; leave room for them
        raise LimitExceeded(
            f"archive declares {declared} entries (limit {limit} members)",
            path=shown, field="max_archive_members",
        )


def read_archive(path: Path, ctx: WalkContext) -> Iterator[Item]:
    """Yield the members of a zip / ``.wastickers`` archive as stickers (see module doc)."""
    shown = str(path)
    limits = ctx.limits
    try:
        size = path.stat().st_size
        if size > limits.max_archive_bytes:
            raise LimitExceeded(
                f"archive is {human_bytes(size)} (limit {human_bytes(limits.max_archive_bytes)})",
                path=shown, field="max_archive_bytes",
            )
        _check_declared_entries(path, shown, limits.max_archive_members)
        zf = zipfile.ZipFile(path)
    except StickerguardError as exc:
        yield SourceError(shown, exc)
        return
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        yield SourceError(shown, PackError(f"not a readable zip archive: {exc}", path=shown))
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > limits.max_archive_members:
            err = LimitExceeded(
                f"archive has {len(infos)} members (limit {limits.max_archive_members})",
                path=shown, field="max_archive_members",
            )
            yield SourceError(shown, err)
            return
        total = sum(i.file_size for i in infos)
        if total > limits.max_archive_bytes:
            err = LimitExceeded(
                f"archive would expand to {human_bytes(total)} in {len(infos)} members "
                f"(limit {human_bytes(limits.max_archive_bytes)})",
                path=shown, field="max_archive_bytes",
            )
            yield SourceError(shown, err)
            return
        problems = [_member_problem(info, shown, ctx) for info in infos]
        meta = _read_meta(zf, [i for i, p in zip(infos, problems) if p is None], shown)
        pack = PackInfo(
            kind="wastickers", identifier=path.stem, name=meta.get("title.txt"),
            publisher=meta.get("author.txt"), source=shown,
        )
        budget = limits.max_archive_bytes
        for info, problem in zip(infos, problems):
            member = info.filename
            where = f"{shown}!{member}"
            if problem is not None:
                yield SourceError(where, problem)
                continue
            if PurePosixPath(member).name.lower() in META_FILES:
                continue
            cap = min(info.file_size, limits.max_file_bytes, budget)
            try:
                data = _read_member(zf, info, cap, shown)
            except StickerguardError as exc:
                yield SourceError(where, exc)
                continue
            except _MEMBER_ERRORS as exc:
                err = PackError(f"member {member!r} cannot be read: {exc}", path=shown)
                yield SourceError(where, err)
                continue
            budget -= len(data)
            is_tray = PurePosixPath(member).name.lower().startswith("tray")
            yield Sticker(path=where, name=member, data=data, pack=pack, is_tray=is_tray)


def _read_meta(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], shown: str) -> dict[str, str]:
    """``{"title.txt": ..., "author.txt": ...}`` from the first matching safe members.

    Text is UTF-8 (BOM tolerated, bad bytes replaced), stripped, capped at 4 KB.
    """
    out: dict[str, str] = {}
    for info in infos:
        base = PurePosixPath(info.filename).name.lower()
        if base not in META_FILES or base in out:
            continue
        try:
            raw = _read_member(zf, info, min(info.file_size, META_MAX_BYTES), shown)
        except (StickerguardError, *_MEMBER_ERRORS):
            continue
        text = raw.decode("utf-8-sig", errors="replace").strip()
        if text:
            out[base] = text
    return out
