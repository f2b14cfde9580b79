"""Hash-list file formats: ``lines``, ``te-csv`` (python-threatexchange) and ``csv``.

Every reader validates each value with ``stickerguard.signals.base.SIGNAL_TYPES`` and
raises :class:`~stickerguard.errors.HashListError` naming the file, the 1-based line
and the bad value, e.g. ``bad.txt:3: not a 64-hex-digit pdq hash: 'zz'``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TextIO

from ..errors import HashListError
from ..signals.base import SIGNAL_TYPES

MAX_LINE_CHARS = 4096  # longer lines are not hash lists (and would cost memory)

#: signal names accepted on input (ours plus python-threatexchange's) -> our name
SIGNAL_ALIASES: dict[str, str] = {
    **{name: name for name in SIGNAL_TYPES},
    "video_md5": "md5",
    "photo_md5": "md5",
    "video_sha256": "sha256",
}
#: our name -> python-threatexchange's name (``sticker_pdq`` has none: kept as is)
TE_NAMES: dict[str, str] = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256", "sticker_pdq": "sticker_pdq"}
#: columns of ``threatexchange dataset -P --csv`` in the order it writes them
TE_COLUMNS = ("collab", "signal_type", "signal_str", "category", "tags")


@dataclass(frozen=True, slots=True)
class HashRecord:
    """One entry of a hash list.

    Attributes:
        signal_type: our signal name (``pdq``, ``sticker_pdq``, ``md5``, ``sha256``).
        value: lowercase hex, validated for its type (64 chars pdq/sha256, 32 md5).
        category: label/category (threatexchange aggregate category, e.g. ``TRUE_POSITIVE``).
        collab: threatexchange collaboration name.
        tags: free-form tags (space-separated in CSV files).
        name: content name (imported as the BankContent name when set).
        frame_index: source frame for animations, else 0.
        quality: PDQ quality 0..100 when known.
        line: 1-based line in the source file (not part of equality).
    """

    signal_type: str
    value: str
    category: str | None = None
    collab: str | None = None
    tags: tuple[str, ...] = ()
    name: str | None = None
    frame_index: int = 0
    quality: int | None = None
    line: int | None = field(default=None, compare=False)


def make_record(type_name: str, value: str, *, path: str, line: int, **extra: object) -> HashRecord:
    """Validate ``type_name`` (ours or a threatexchange alias) and ``value``; raise HashListError."""
    ours = SIGNAL_ALIASES.get(type_name.strip().lower())
    if ours is None:
        known = ", ".join(SIGNAL_ALIASES)
        raise HashListError(f"unknown signal type {type_name!r} (known: {known})", path=path, line=line)
    try:
        v = SIGNAL_TYPES[ours].validate(value)
    except ValueError as e:
        raise HashListError(str(e), path=path, line=line) from None
    return HashRecord(ours, v, line=line, **extra)  # type: ignore[arg-type]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file (BOM allowed), decoding errors as HashListError."""
    name = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for n, text in enumerate(fh, 1):
                if len(text) > MAX_LINE_CHARS:
                    raise HashListError(f"line longer than {MAX_LINE_CHARS} characters", path=name, line=n)
                yield n, text
    except UnicodeDecodeError as e:
        raise HashListError(f"not UTF-8 text ({e.reason})", path=name) from None
    except OSError as e:
        raise HashListError(f"cannot read file: {e.strerror}", path=name) from None


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the non-blank CSV rows of ``path``."""
    name = str(path)
    reader = csv.reader((text for _, text in _lines(path)), strict=True)
    try:
        for row in reader:
            if not row or all(not f.strip() for f in row):
                continue
            yield reader.line_num, row
    except csv.Error as e:
        raise HashListError(f"bad CSV: {e}", path=name, line=reader.line_num) from None


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(text.split()) if text else ()


def _int(text: str, what: str, lo: int, hi: int, *, path: str, line: int) -> int:
    try:
        n = int(text)
    except ValueError:
        raise HashListError(f"{what} is not an integer: {text!r}", path=path, line=line) from None
    if not lo <= n <= hi:
        raise HashListError(f"{what} must be {lo}..{hi}, got {n}", path=path, line=line)
    return n


class HashListFormat:
    """A hash-list file format.

    ``name`` is its registry key in :data:`FORMATS`; ``read(path)`` yields validated
    :class:`HashRecord` s (raising HashListError at the first bad line);
    ``write(records, fh)`` writes them to a text handle (open it with ``newline=""``).
    """

    name: ClassVar[str]

    def read(self, path: str | Path) -> Iterator[HashRecord]:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, records: Iterable[HashRecord], fh: TextIO) -> int:  # pragma: no cover
        """Write ``records``; returns how many were written."""
        raise NotImplementedError


class LinesFormat(HashListFormat):
    """One hash per line: ``pdq <hex>``, ``sticker_pdq <hex>``, ``md5 <hex>``,
    ``sha256 <hex>`` or bare hex (64 digits = pdq, 32 = md5). Blank lines and lines
    starting with ``#`` are skipped; any extra field after the hash is an error.
    Only type and value are kept (no labels, names or frames)."""

    name = "lines"

    def read(self, path: str | Path) -> Iterator[HashRecord]:
        p = str(path)
        for n, text in _lines(Path(path)):
            s = text.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split()
            if len(parts) == 1:
                bare = parts[0]
                kind = {64: "pdq", 32: "md5"}.get(len(bare))
                if kind is None:
                    raise HashListError(
                        f"not a hash (bare values must be 64 hex digits for pdq or 32 for md5): {bare!r}",
                        path=p,
                        line=n,
                    )
                yield make_record(kind, bare, path=p, line=n)
            elif len(parts) == 2:
                yield make_record(parts[0], parts[1], path=p, line=n)
            else:
                raise HashListError(f"unexpected extra field after the hash: {parts[2]!r}", path=p, line=n)

    def write(self, records: Iterable[HashRecord], fh: TextIO) -> int:
        count = 0
        for r in records:
            fh.write(f"{r.signal_type} {r.value}\n")
            count += 1
        return count


class ThreatExchangeCsvFormat(HashListFormat):
    """python-threatexchange CSV, as written by ``threatexchange dataset -P --csv``:
    header ``collab,signal_type,signal_str,category,tags`` (tags space-separated;
    category the aggregate opinion, e.g. ``TRUE_POSITIVE``). Files without the header
    are accepted in that column order or as ``signal_type,signal_str,collab,category,tags``
    (told apart by which column holds a signal type name). Signal names: ``pdq``,
    ``video_md5``/``photo_md5``/``md5`` -> md5, ``video_sha256``/``sha256`` -> sha256.
    Other threatexchange types (``url``, ``raw_text``...) are rejected: export only
    media signals with ``threatexchange dataset -P --csv -s pdq video_md5``."""

    name = "te-csv"

    def read(self, path: str | Path) -> Iterator[HashRecord]:
        p = str(path)
        columns: tuple[str, ...] | None = None
        for n, row in _csv_rows(Path(path)):
            if columns is None:
                lowered = tuple(f.strip().lower() for f in row)
                if set(lowered) == set(TE_COLUMNS) and len(lowered) == len(TE_COLUMNS):
                    columns = lowered
                    continue
                if row[0].strip().lower() in SIGNAL_ALIASES:
                    columns = ("signal_type", "signal_str", "collab", "category", "tags")
                elif len(row) > 1 and row[1].strip().lower() in SIGNAL_ALIASES:
                    columns = TE_COLUMNS
                else:
                    raise HashListError(
                        f"not a threatexchange CSV row (no signal type in column 1 or 2): {row[:2]!r}",
                        path=p,
                        line=n,
                    )
            if len(row) != len(columns):
                raise HashListError(f"expected {len(columns)} columns, got {len(row)}: {row!r}", path=p, line=n)
            d = dict(zip(columns, (f.strip() for f in row)))
            yield make_record(
                d["signal_type"],
                d["signal_str"],
                path=p,
                line=n,
                category=d["category"] or None,
                collab=d["collab"] or None,
                tags=_tags(d["tags"]),
            )

    def write(self, records: Iterable[HashRecord], fh: TextIO) -> int:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TE_COLUMNS)
        count = 0
        for r in records:
            w.writerow([r.collab or "", TE_NAMES[r.signal_type], r.value, r.category or "", " ".join(r.tags)])
            count += 1
        return count


class HeaderCsvFormat(HashListFormat):
    """CSV with a header row. Required: ``signal_type`` and the hash in ``signal``
    (aliases ``hash``, ``value``, ``signal_str``). Optional: ``label``/``category``,
    ``collab``, ``tags`` (space-separated), ``name`` (content name), ``frame``
    (alias ``frame_index``, >= 0), ``quality`` (0..100). Unknown columns are errors."""

    name = "csv"
    ALIASES: ClassVar[dict[str, str]] = {
        "signal_type": "signal_type",
        "signal": "signal",
        "hash": "signal",
        "value": "signal",
        "signal_str": "signal",
        "label": "category",
        "category": "category",
        "collab": "collab",
        "tags": "tags",
        "name": "name",
        "frame": "frame",
        "frame_index": "frame",
        "quality": "quality",
    }
    COLUMNS: ClassVar[tuple[str, ...]] = ("signal_type", "signal", "category", "collab", "tags", "name", "frame", "quality")

    def _header(self, row: list[str], p: str, n: int) -> list[str]:
        cols: list[str] = []
        for raw in row:
            key = raw.strip().lower()
            if key not in self.ALIASES:
                raise HashListError(f"unknown column {raw!r} (known: {', '.join(self.ALIASES)})", path=p, line=n)
            if self.ALIASES[key] in cols:
                raise HashListError(f"column {raw!r} given twice (or with an alias)", path=p, line=n)
            cols.append(self.ALIASES[key])
        for need in ("signal_type", "signal"):
            if need not in cols:
                raise HashListError(f"header has no {need!r} column: {row!r}", path=p, line=n)
        return cols

    def read(self, path: str | Path) -> Iterator[HashRecord]:
        p = str(path)
        cols: list[str] | None = None
        for n, row in _csv_rows(Path(path)):
            if cols is None:
                cols = self._header(row, p, n)
                continue
            if len(row) != len(cols):
                raise HashListError(f"expected {len(cols)} columns, got {len(row)}: {row!r}", path=p, line=n)
            d = dict(zip(cols, (f.strip() for f in row)))
            frame = d.get("frame") or ""
            quality = d.get("quality") or ""
            yield make_record(
                d["signal_type"],
                d["signal"],
                path=p,
                line=n,
                category=d.get("category") or None,
                collab=d.get("collab") or None,
                tags=_tags(d.get("tags")),
                name=d.get("name") or None,
                frame_index=_int(frame, "frame", 0, 2**31 - 1, path=p, line=n) if frame else 0,
                quality=_int(quality, "quality", 0, 100, path=p, line=n) if quality else None,
            )

    def write(self, records: Iterable[HashRecord], fh: TextIO) -> int:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(self.COLUMNS)
        count = 0
        for r in records:
            q = "" if r.quality is None else r.quality
            w.writerow(
                [r.signal_type, r.value, r.category or "", r.collab or "", " ".join(r.tags), r.name or "", r.frame_index, q]
            )
            count += 1
        return count


FORMATS: dict[str, HashListFormat] = {f.name: f for f in (LinesFormat(), ThreatExchangeCsvFormat(), HeaderCsvFormat())}


def detect_format(path: str | Path) -> HashListFormat:
    """Pick the format from the first non-blank, non-comment line (never the extension).

    A header naming exactly the threatexchange columns -> ``te-csv``; another header
    with a ``signal_type`` column -> ``csv``; a comma-separated row whose first or
    second field is a signal type name -> ``te-csv`` (headerless); anything else ->
    ``lines`` (whose reader then reports the first bad line). Empty files -> ``lines``.
    """
    for _, text in _lines(Path(path)):
        s = text.strip()
        if not s or s.startswith("#"):
            continue
        if "," not in s:
            return FORMATS["lines"]
        row = [f.strip().lower() for f in next(csv.reader([s]))]
        if len(row) == len(TE_COLUMNS) and set(row) == set(TE_COLUMNS):
            return FORMATS["te-csv"]
        if "signal_type" in row:
            return FORMATS["csv"]
        if row[0] in SIGNAL_ALIASES or (len(row) > 1 and row[1] in SIGNAL_ALIASES):
            return FORMATS["te-csv"]
        raise HashListError(f"cannot tell the hash-list format from this line: {s[:80]!r}", path=str(path))
    return FORMATS["lines"]


def get_format(name: str, path: str | Path | None = None) -> HashListFormat:
    """``FORMATS[name]``, or :func:`detect_format` for ``"auto"``; raises HashListError."""
    if name == "auto":
        if path is None:
            raise HashListError("format 'auto' needs a file to look at")
        return detect_format(path)
    try:
        return FORMATS[name]
    except KeyError:
        raise HashListError(
            f"unknown hash-list format {name!r} (known: auto, {', '.join(FORMATS)})",
            path=None if path is None else str(path),
        ) from None
