"""Shared plumbing for the pack readers: hostile-safe file reads and directory listing.

Everything here treats the filesystem as untrusted: files are size-checked before and
while reading, only regular files are opened (never FIFOs or devices, which could block
or stream forever), symlinks are followed only while they stay inside the tree the
user asked to scan, and directories are visited once each (by real path), so symlink
loops end.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LimitExceeded, PackError
from .limits import Limits
from .types import PackInfo, SourceError, Sticker

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
"""Local-file-header and empty-archive signatures: how a zip (.wastickers) is recognised."""

Item = Sticker | SourceError


def human_bytes(n: float) -> str:
    """Format a byte count with binary units for messages: ``2254857830 -> '2.1 GB'``.

    ``536870912 -> '512 MB'``; values under 1 KB print as ``'812 B'``.
    """
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            text = f"{n / size:.1f}"
            return f"{text.removesuffix('.0')} {unit}"
    return f"{int(n)} B"


@dataclass
class WalkContext:
    """State of one walk below one top-level path.

    Attributes:
        limits: the safety limits in force.
        root: real (symlink-resolved) path of the top-level path; symlinks must stay
            inside it.
        signal_keys: pack folder path or pack id -> 64-hex-char Signal pack key.
        visited: real paths of directories already walked (loop guard).
        walk: the dispatcher ``walk(path) -> Iterator[Sticker | SourceError]`` that
            classifies a path (pack folder, archive, plain folder or file) and reads it;
            pack readers call it for children they do not claim.
        walk_file: ``walk_file(path, pack, name) -> Iterator`` reads one file as part
            of ``pack``, opening it as an archive instead when it is a zip.
    """

    limits: Limits
    root: Path
    signal_keys: dict[str, str] = field(default_factory=dict)
    visited: set[Path] = field(default_factory=set)
    walk: Callable[[Path], Iterator[Item]] | None = None
    walk_file: Callable[[Path, PackInfo, str], Iterator[Item]] | None = None

    def inside(self, real: Path) -> bool:
        """True when the resolved path ``real`` is the root or below it."""
        return real == self.root or real.is_relative_to(self.root)


def check_entry(path: Path, ctx: WalkContext) -> os.stat_result:
    """Stat ``path`` (following symlinks only inside the tree) and return its stat.

    Raises:
        PackError: dangling symlink, symlink leading out of the scanned tree, or the
            path does not exist.
    """
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        raise PackError("no such file or directory", path=str(path)) from None
    except OSError as exc:
        raise PackError(f"cannot stat: {exc.strerror}", path=str(path)) from None
    if not stat.S_ISLNK(lst.st_mode):
        return lst
    real = Path(os.path.realpath(path))
    if not ctx.inside(real):
        raise PackError(f"symlink leaves the scanned tree: -> '{real}'", path=str(path))
    try:
        return os.stat(path)
    except OSError:
        raise PackError(f"dangling symlink -> '{os.readlink(path)}'", path=str(path)) from None


def list_dir(folder: Path, ctx: WalkContext) -> tuple[list[Path], list[Path], list[SourceError]]:
    """List ``folder`` sorted by name: ``(files, subfolders, errors)``.

    Hidden entries (name starting with ``.``) are skipped silently. Entries that are
    neither regular files nor directories (FIFOs, sockets, devices) and symlinks that
    leave the tree or dangle become ``SourceError``s. Subfolders already visited (by real
    path) are dropped, which ends symlink loops.
    """
    files: list[Path] = []
    dirs: list[Path] = []
    errors: list[SourceError] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        err = PackError(f"cannot list folder: {exc.strerror}", path=str(folder))
        return [], [], [SourceError(str(folder), err)]
    for name in names:
        if name.startswith("."):
            continue
        path = folder / name
        try:
            st = check_entry(path, ctx)
        except PackError as exc:
            errors.append(SourceError(str(path), exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            if Path(os.path.realpath(path)) not in ctx.visited:
                dirs.append(path)
        elif stat.S_ISREG(st.st_mode):
            files.append(path)
        else:
            err = PackError("not a regular file (device, FIFO or socket)", path=str(path))
            errors.append(SourceError(str(path), err))
    return files, dirs, errors


def read_capped(path: Path, ctx: WalkContext, *, limit: int | None = None) -> bytes:
    """Read a regular file of at most ``limit`` bytes (default ``limits.max_file_bytes``).

    The size is checked from ``fstat`` before reading and again on the bytes actually
    read (a growing file cannot slip past). Raises ``LimitExceeded`` naming size and
    limit, ``PackError`` for symlinks out of the tree, non-regular or unreadable files.
    """
    cap = ctx.limits.max_file_bytes if limit is None else limit
    st = check_entry(path, ctx)
    if not stat.S_ISREG(st.st_mode):
        raise PackError("not a regular file", path=str(path))
    if st.st_size > cap:
        raise LimitExceeded(
            f"file is {human_bytes(st.st_size)} ({st.st_size} bytes; limit {human_bytes(cap)})",
            path=str(path),
            field="max_file_bytes",
        )
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            # read(n) allocates n bytes up front: ask for the stat size (+1 to see
            # growth), not the cap (64 MB per file), and go on only if the file grew
            want = min(cap, st.st_size) + 1
            data = fh.read(want)
            if len(data) == want <= cap:
                data += fh.read(cap + 1 - len(data))
    except OSError as exc:
        raise PackError(f"cannot read: {exc.strerror}", path=str(path)) from None
    if len(data) > cap:
        raise LimitExceeded(
            f"file grew past the limit while reading ({human_bytes(cap)})",
            path=str(path),
            field="max_file_bytes",
        )
    return data


def load_json(path: Path, ctx: WalkContext, *, limit: int | None = None) -> object:
    """Read and parse a JSON manifest capped at ``limit`` (default ``limits.max_file_bytes``).

    Raises ``PackError`` with ``line`` set for bad JSON (``invalid JSON: <msg> at column
    <n>``) or bad UTF-8, ``LimitExceeded`` for an oversized file.
    """
    data = read_capped(path, ctx, limit=limit)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise PackError(
            f"invalid JSON: {exc.msg} at column {exc.colno}", path=str(path), line=exc.lineno
        ) from None
    except RecursionError:
        raise PackError("invalid JSON: nested too deeply", path=str(path)) from None
    except UnicodeDecodeError as exc:
        raise PackError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", path=str(path)) from None


def is_zip_file(path: Path) -> bool:
    """True when the file starts with a zip signature (sniffed, never by extension).

    Call only on paths already known to be regular files (see ``list_dir``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            return fh.read(4) in ZIP_MAGICS
    except OSError:
        return False
