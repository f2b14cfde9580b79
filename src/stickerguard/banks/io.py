"""Filling banks (hash lists, hashed stickers) and exporting them as hash lists."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlalchemy import String, bindparam, func, insert, select, text
from sqlalchemy.orm import Session

from ..errors import HashListError
from ..signals.base import SIGNAL_TYPES, signal_type
from ..store.db import Database
from ..store.models import BankContent, BankSignal
from .changes import log_change
from .formats import HashRecord, get_format
from .ops import bank_row

if TYPE_CHECKING:  # annotations only: banks never decodes or hashes media itself
    from ..media.types import Sticker
    from ..signals.types import MediaSignals

CHUNK = 5_000  # contents per bulk INSERT (their signals go in the same round)


@dataclass(frozen=True)
class ImportResult:
    """What one import added.

    Attributes:
        path: the hash-list file as given (None for :func:`add_media`).
        records: BankContent rows added (hash-list entries, or stickers).
        by_type: signals added by type, e.g. ``{"md5": 2, "pdq": 3}``.
        duplicates: entries skipped because the bank already held them, or they came
            earlier in the same import (a hash-list record: same signal type and value;
            a sticker: same SHA-256). Re-importing a file therefore adds nothing.
    """

    path: str | None
    records: int
    by_type: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0

    __hash__ = None  # type: ignore[assignment]


_Item = tuple[dict, list[dict]]  # (BankContent values, [BankSignal values])


def _batched(it: Iterable, n: int) -> Iterator[list]:
    it = iter(it)
    while chunk := list(islice(it, n)):
        yield chunk


_CONTENT_COLUMNS = (
    "id", "bank_id", "name", "source", "pack", "animated", "frame_count", "labels_json", "note", "created_at"
)
_SIGNAL_COLUMNS = (
    "bank_id", "content_id", "signal_type", "value", "frame_index", "quality", "category", "collab", "tags", "region"
)


def _identity(item: _Item) -> tuple[str, str] | None:
    """The (signal type, value) that makes an item a duplicate: a sticker's SHA-256, or
    the one signal of a hash-list record; None for items with several other signals."""
    sigs = item[1]
    for g in sigs:
        if g["signal_type"] == "sha256":
            return "sha256", g["value"]
    return (sigs[0]["signal_type"], sigs[0]["value"]) if len(sigs) == 1 else None


def _drop_duplicates(s: Session, bank_id: int, chunk: list[_Item]) -> list[_Item]:
    """``chunk`` without items whose identity the bank already holds or that repeat an
    earlier item of the chunk. Earlier chunks of the same import are already inserted in
    this transaction, so the query sees them too (no import-wide set: a 10 M-line list
    would keep every value alive). One indexed query per signal type
    (ix_bank_signals_type_value)."""
    wanted: dict[str, set[str]] = {}
    for item in chunk:
        key = _identity(item)
        if key is not None:
            wanted.setdefault(key[0], set()).add(key[1])
    stored: set[tuple[str, str]] = set()
    for stype, values in wanted.items():
        found = s.execute(
            select(BankSignal.value).where(
                BankSignal.bank_id == bank_id, BankSignal.signal_type == stype, BankSignal.value.in_(values)
            )
        ).scalars()
        stored.update((stype, v) for v in found)
    kept = []
    seen: set[tuple[str, str]] = set()
    for item in chunk:
        key = _identity(item)
        if key is not None:
            if key in stored or key in seen:
                continue
            seen.add(key)
        kept.append(item)
    return kept


def _insert_items(
    s: Session, bank_id: int, items: Iterable[_Item], ids_out: list[int] | None = None,
    *, dedupe: bool = False,
) -> tuple[int, Counter, int]:
    """Bulk-insert contents then their signals, ``CHUNK`` contents per round trip.

    SQLite: contents go through multi-row ``INSERT ... RETURNING id`` (SQLAlchemy
    insertmanyvalues, ids in parameter order); PostgreSQL: content ids are taken from
    the table's sequence, then rows go in by the driver's ``executemany``. Signals
    always go by ``executemany`` with JSON pre-serialised (SQLAlchemy's per-row type
    processing was 3/4 of the import time). Linear in the number of records. The new
    content ids are appended to ``ids_out`` (in item order) when it is given. One
    ``signals`` change-log row records what was added. With ``dedupe``, items already in
    the bank (see :func:`_identity`) are skipped. Returns (contents added, signals added
    by type, items skipped as duplicates).
    """
    contents = 0
    by_type: Counter = Counter()
    conn = s.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    signal_sql = (
        f"INSERT INTO {BankSignal.__tablename__} ({', '.join(_SIGNAL_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_SIGNAL_COLUMNS))})"
    )
    contents_t = BankContent.__table__
    contents_stmt = (
        insert(contents_t)
        .values(labels=bindparam("labels_json", type_=String()))
        .returning(contents_t.c.id, sort_by_parameter_order=True)
    )
    pg = conn.dialect.name == "postgresql"
    content_sql = (
        f"INSERT INTO {BankContent.__tablename__} ({', '.join(_CONTENT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_CONTENT_COLUMNS))})".replace("labels_json", "labels")
    )
    pg_ids = text(
        f"SELECT nextval(pg_get_serial_sequence('{BankContent.__tablename__}', 'id')) FROM generate_series(1, :n)"
    )
    json_cache: dict[tuple[str, ...], str] = {}

    def as_json(values: list[str]) -> str:
        key = tuple(values)
        if key not in json_cache:
            json_cache[key] = json.dumps(values)
        return json_cache[key]

    content_lo = content_hi = None
    duplicates = 0
    for chunk in _batched(items, CHUNK):
        if dedupe:
            before = len(chunk)
            chunk = _drop_duplicates(s, bank_id, chunk)
            duplicates += before - len(chunk)
            if not chunk:
                continue
        now = datetime.now(timezone.utc)
        rows = []
        for c, _ in chunk:
            row = {**c, "bank_id": bank_id, "created_at": now, "labels_json": as_json(c["labels"])}
            del row["labels"]
            rows.append(row)
        if pg:  # ids from the sequence, then a cached prepared executemany (psycopg
            # re-parses every multi-row VALUES statement: 5x slower)
            ids = conn.execute(pg_ids, {"n": len(rows)}).scalars().all()
            conn.exec_driver_sql(
                content_sql, [(i, *(r[k] for k in _CONTENT_COLUMNS[1:])) for i, r in zip(ids, rows)]
            )
        else:
            ids = conn.execute(contents_stmt, rows).scalars().all()
        if ids_out is not None:
            ids_out.extend(ids)
        if ids:
            content_lo = min(ids) if content_lo is None else min(content_lo, min(ids))
            content_hi = max(ids) if content_hi is None else max(content_hi, max(ids))
        signal_rows = []
        for content_id, (_, sigs) in zip(ids, chunk):
            for g in sigs:
                signal_rows.append(
                    (bank_id, content_id, g["signal_type"], g["value"], g["frame_index"], g["quality"],
                     g["category"], g["collab"], as_json(g["tags"]), g.get("region"))
                )
                by_type[g["signal_type"]] += 1
        if signal_rows:
            conn.exec_driver_sql(signal_sql, signal_rows)
        contents += len(chunk)
    if content_lo is not None:
        _log_added(s, bank_id, content_lo, content_hi)
    return contents, by_type, duplicates


def _log_added(s: Session, bank_id: int, content_lo: int, content_hi: int) -> None:
    """One ``signals`` change-log row for contents ``content_lo..content_hi`` of this import."""
    lo, hi = s.execute(
        select(func.min(BankSignal.id), func.max(BankSignal.id)).where(
            BankSignal.bank_id == bank_id, BankSignal.content_id.between(content_lo, content_hi)
        )
    ).one()
    log_change(s, "signals", bank_id=bank_id, first_signal_id=lo, last_signal_id=hi,
               payload={"content_ids": [content_lo, content_hi]})


def _record_item(rec: HashRecord, name: str, source: str) -> _Item:
    content = {
        "name": rec.name or f"{name}:{rec.line}",
        "source": source,
        "pack": None,
        "animated": False,
        "frame_count": 1,
        "labels": [rec.category] if rec.category else [],
        "note": None,
    }
    signal = {
        "signal_type": rec.signal_type,
        "value": rec.value,
        "frame_index": rec.frame_index,
        "quality": rec.quality,
        "category": rec.category,
        "collab": rec.collab,
        "tags": list(rec.tags),
    }
    return content, [signal]


def import_hash_list(db: Database, bank: str, path: str | Path, *, format: str = "auto") -> ImportResult:
    """Import every hash of a hash-list file into bank ``bank``, all or nothing.

    The whole file is validated first (a bad line raises HashListError, e.g.
    ``bad.txt:3: not a 64-hex-digit pdq hash: 'zz'``, before anything is written);
    then one BankContent (named by the record's ``name`` or ``<file name>:<line>``;
    ``labels`` = ``[category]`` when set) and one BankSignal per record are bulk
    inserted in ONE transaction. A record whose signal type and value the bank already
    holds (or that repeats an earlier line) is skipped and counted in ``duplicates``. ``format``: ``auto`` (sniffed from the content),
    ``lines``, ``te-csv`` or ``csv``. Raises BankError for an unknown bank.
    """
    source = str(path)
    fmt = get_format(format, path)
    with db.session() as s:
        bank_row(s, bank)  # fail on an unknown bank before reading a million lines
    checked = sum(1 for _ in fmt.read(path))  # pass 1: validate only, O(1) memory
    fname = Path(path).name
    with db.session() as s:
        bank_id = bank_row(s, bank).id
        records, by_type, dups = _insert_items(
            s, bank_id, (_record_item(r, fname, source) for r in fmt.read(path)), dedupe=True
        )
        if records + dups != checked:  # the file changed between the passes: roll back
            raise HashListError(f"file changed while importing: {checked} then {records + dups} records",
                                path=source)
    return ImportResult(source, records, dict(sorted(by_type.items())), dups)


def _media_item(sticker: Sticker, sig: MediaSignals) -> _Item:
    content = {
        "name": sticker.name,
        "source": sticker.path,
        "pack": sticker.pack.identifier or sticker.pack.name,
        "animated": bool(sig.animated),
        "frame_count": len(sig.frames),
        "labels": [],
        "note": None,
    }
    base = {"frame_index": 0, "quality": None, "category": None, "collab": None, "tags": []}
    signals = [
        {**base, "signal_type": "md5", "value": SIGNAL_TYPES["md5"].validate(sig.md5)},
        {**base, "signal_type": "sha256", "value": SIGNAL_TYPES["sha256"].validate(sig.sha256)},
    ]
    for f in sig.frames:
        signals.append(
            {**base, "signal_type": "pdq", "value": SIGNAL_TYPES["pdq"].validate(f.pdq), "frame_index": f.index, "quality": f.quality}
        )
        if f.canonical_pdq is not None:
            signals.append(
                {
                    **base,
                    "signal_type": "sticker_pdq",
                    "value": SIGNAL_TYPES["sticker_pdq"].validate(f.canonical_pdq),
                    "frame_index": f.index,
                    "quality": f.canonical_quality,
                }
            )
        # Canonical hashes of the frame already flattened onto white / black, so that a
        # query a client flattened before upload still meets a bank hash (signals docs).
        for v in f.canonical_variants:
            signals.append(
                {
                    **base,
                    "signal_type": "sticker_pdq",
                    "value": SIGNAL_TYPES["sticker_pdq"].validate(v),
                    "frame_index": f.index,
                    "quality": None,
                }
            )
        # Occluded canonical forms (one region of the canvas erased), so that a query
        # with an emoji or caption pasted over that region meets a bank hash; matched
        # only against the same region (signals.occlusion, docs/matching.md).
        for region, value, quality, _share in f.canonical_occluded:
            signals.append(
                {
                    **base,
                    "signal_type": "sticker_pdq",
                    "value": SIGNAL_TYPES["sticker_pdq"].validate(value),
                    "frame_index": f.index,
                    "quality": quality,
                    "region": region,
                }
            )
    return content, signals


def add_media(
    db: Database, bank: str, items: Iterable[tuple[Sticker, MediaSignals]], *, ids_out: list[int] | None = None,
    dedupe: bool = True,
) -> ImportResult:
    """Add already-hashed stickers to bank ``bank`` in ONE transaction.

    Each ``(Sticker, MediaSignals)`` becomes one BankContent (``name`` = sticker name,
    ``source`` = its path, ``pack`` = pack identifier, ``animated``, ``frame_count`` =
    hashed frames) with signals ``md5``, ``sha256`` and, per frame, ``pdq`` and
    ``sticker_pdq`` (skipped when the canonical hash is None) with that frame's index
    and quality, plus one ``sticker_pdq`` (quality unknown) per ``canonical_variants``
    entry and one per ``canonical_occluded`` entry (its quality, ``region`` set). With ``dedupe`` (default), a sticker whose SHA-256 the bank already holds
    (or that came earlier in ``items``) is skipped and counted in ``duplicates``. New content ids are appended
    to ``ids_out`` when given. Raises BankError
    (unknown bank) or ValueError (a malformed hash).
    """
    with db.session() as s:
        bank_id = bank_row(s, bank).id
        records, by_type, dups = _insert_items(
            s, bank_id, (_media_item(st, sg) for st, sg in items), ids_out, dedupe=dedupe
        )
    return ImportResult(None, records, dict(sorted(by_type.items())), dups)


def bank_records(db: Database, bank: str, *, signal_types: Iterable[str] | None = None) -> Iterator[HashRecord]:
    """The signals of bank ``bank`` as HashRecords (``name`` = content name), by signal id.

    Occluded sticker PDQs (``region`` set) are left out: they mean something only next
    to their region, which hash lists have no field for, and ``add_media`` derives them
    again from the media. Raises BankError for an unknown bank or KeyError for an unknown signal type.
    """
    types = None if signal_types is None else [signal_type(t).name for t in signal_types]
    with db.session() as s:
        bank_id = bank_row(s, bank).id
    stmt = (
        select(
            BankSignal.signal_type,
            BankSignal.value,
            BankSignal.category,
            BankSignal.collab,
            BankSignal.tags,
            BankContent.name,
            BankSignal.frame_index,
            BankSignal.quality,
        )
        .join(BankContent, BankSignal.content_id == BankContent.id)
        .where(BankSignal.bank_id == bank_id, BankSignal.region.is_(None))
        .order_by(BankSignal.id)
    )
    if types is not None:
        stmt = stmt.where(BankSignal.signal_type.in_(types))
    return _stream_records(db, stmt)


def _stream_records(db: Database, stmt) -> Iterator[HashRecord]:
    with db.engine.connect() as conn:
        for st, value, cat, collab, tags, name, frame, quality in conn.execution_options(yield_per=10_000).execute(stmt):
            yield HashRecord(st, value, cat, collab, tuple(tags), name, frame, quality)


def export_hash_list(
    db: Database,
    bank: str,
    fh: TextIO,
    *,
    format: str = "lines",
    signal_types: Iterable[str] | None = None,
) -> int:
    """Write bank ``bank`` to text handle ``fh`` as a hash list; returns lines written.

    ``format``: ``lines`` (type and hash only), ``te-csv`` (threatexchange names:
    md5 -> video_md5, sha256 -> video_sha256) or ``csv`` (every field, content name
    included). ``signal_types`` limits the export, e.g. ``["pdq"]``. Open ``fh`` with
    ``newline=""``. Raises BankError (unknown bank) or HashListError (unknown format).
    """
    return get_format(format).write(bank_records(db, bank, signal_types=signal_types), fh)
