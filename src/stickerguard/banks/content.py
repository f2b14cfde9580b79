"""Bank content items: browse, add raw hashes, update (note, disable until a date), remove."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select

from ..errors import BankError
from ..signals.base import signal_type
from ..store.db import Database
from ..store.models import BankContent, BankSignal
from .changes import log_change
from .io import ImportResult, _insert_items
from .ops import bank_row

MAX_PAGE = 1000
"""Largest page :func:`list_contents` returns."""


@dataclass(frozen=True)
class ContentInfo:
    """One bank item with its signals.

    Attributes:
        id, bank: content id and bank name.
        name, source, pack, note: as stored (None when unknown).
        animated, frame_count: animation flag and hashed frame count.
        labels: the item's own labels (the bank's are separate).
        created_at: UTC creation time.
        disabled_until: UTC time before which the item does not match (None = enabled).
        signals: ``[{"signal_type", "value", "frame_index", "quality", "region"}]`` by
            signal id (``region``: the erased canvas region of an occluded sticker PDQ, else None).
    """

    id: int
    bank: str
    name: str | None
    source: str | None
    pack: str | None
    note: str | None
    animated: bool
    frame_count: int
    labels: tuple[str, ...]
    created_at: datetime
    disabled_until: datetime | None
    signals: tuple[dict, ...]

    __hash__ = None  # type: ignore[assignment]

    @property
    def enabled(self) -> bool:
        """True unless ``disabled_until`` is in the future."""
        return self.disabled_until is None or _aware(self.disabled_until) <= datetime.now(timezone.utc)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _infos(s, bank_name: str, rows: list[BankContent]) -> list[ContentInfo]:
    ids = [r.id for r in rows]
    sigs: dict[int, list[dict]] = {i: [] for i in ids}
    if ids:
        for cid, st, value, frame, quality, region in s.execute(
            select(BankSignal.content_id, BankSignal.signal_type, BankSignal.value, BankSignal.frame_index,
                   BankSignal.quality, BankSignal.region).where(BankSignal.content_id.in_(ids)).order_by(BankSignal.id)
        ):
            sigs[cid].append({"signal_type": st, "value": value, "frame_index": frame, "quality": quality,
                              "region": region})
    return [
        ContentInfo(r.id, bank_name, r.name, r.source, r.pack, r.note, r.animated, r.frame_count,
                    tuple(r.labels or ()), _aware(r.created_at),
                    None if r.disabled_until is None else _aware(r.disabled_until), tuple(sigs[r.id]))
        for r in rows
    ]


def list_contents(db: Database, bank: str, *, offset: int = 0, limit: int = 100) -> tuple[int, list[ContentInfo]]:
    """One page of bank ``bank``'s items by id: ``(total items, page)``.

    ``offset`` >= 0, ``limit`` 1..:data:`MAX_PAGE`. Raises BankError for an unknown
    bank or a bad offset/limit.
    """
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise BankError(f"offset must be >= 0 and limit 1..{MAX_PAGE}, got {offset} and {limit}", field="limit")
    with db.session() as s:
        b = bank_row(s, bank)
        total = s.scalar(select(func.count()).select_from(BankContent).where(BankContent.bank_id == b.id))
        rows = s.scalars(
            select(BankContent).where(BankContent.bank_id == b.id).order_by(BankContent.id).offset(offset).limit(limit)
        ).all()
        return int(total), _infos(s, b.name, list(rows))


def _content_row(s, bank: str, content_id: int) -> BankContent:
    b = bank_row(s, bank)
    row = s.get(BankContent, content_id)
    if row is None or row.bank_id != b.id:
        raise BankError(f"bank {bank!r} has no content {content_id}", field="content_id")
    return row


def get_content(db: Database, bank: str, content_id: int) -> ContentInfo:
    """Item ``content_id`` of bank ``bank``; raises BankError if either is unknown."""
    with db.session() as s:
        return _infos(s, bank, [_content_row(s, bank, content_id)])[0]


_UNSET = object()


def update_content(db: Database, bank: str, content_id: int, *, note=_UNSET, disabled_until=_UNSET) -> ContentInfo:
    """Set the note and/or ``disabled_until`` (a datetime, naive = UTC, or None to enable).

    Logs a ``content`` change so that servers stop (or resume) reporting the item.
    Raises BankError for an unknown bank or content.
    """
    with db.session() as s:
        row = _content_row(s, bank, content_id)
        if note is not _UNSET:
            row.note = note
        if disabled_until is not _UNSET:
            row.disabled_until = None if disabled_until is None else _aware(disabled_until)
        s.flush()
        until = row.disabled_until
        log_change(s, "content", bank_id=row.bank_id, content_id=row.id,
                   payload={"disabled_until": None if until is None else _aware(until).isoformat()})
        return _infos(s, bank, [row])[0]


def delete_content(db: Database, bank: str, content_id: int) -> int:
    """Remove item ``content_id`` and its signals; returns the number of signals removed.

    Raises BankError for an unknown bank or content.
    """
    with db.session() as s:
        row = _content_row(s, bank, content_id)
        ids = list(s.scalars(select(BankSignal.id).where(BankSignal.content_id == row.id)))
        bank_id = row.bank_id
        s.execute(delete(BankSignal).where(BankSignal.content_id == content_id))
        s.execute(delete(BankContent).where(BankContent.id == content_id))
        log_change(s, "content", bank_id=bank_id, content_id=content_id,
                   payload={"removed": True, "signal_ids": ids})
        return len(ids)


def add_signals(
    db: Database,
    bank: str,
    items: Iterable[Mapping[str, str]],
    *,
    name: str | None = None,
    note: str | None = None,
) -> tuple[ImportResult, list[int]]:
    """Add raw hashes: each mapping ``{signal type: hex value}`` becomes ONE content item.

    Types are stickerguard names (``pdq``, ``sticker_pdq``, ``md5``, ``sha256``); every
    value is validated before anything is written. Returns the import result and the
    new content ids, in order. One transaction. Raises BankError for an unknown bank,
    an empty mapping, an unknown type or a malformed value (the message names them).
    """
    prepared = []
    for i, item in enumerate(items):
        if not item:
            raise BankError(f"item {i} has no signals", field=f"items[{i}]")
        sigs = []
        for tname, value in item.items():
            try:
                kind = signal_type(tname)
                value = kind.validate(value)
            except (KeyError, ValueError) as exc:
                raise BankError(f"item {i}: {exc.args[0]}", field=f"items[{i}].{tname}") from None
            sigs.append({"signal_type": kind.name, "value": value, "frame_index": 0,
                         "quality": None, "category": None, "collab": None, "tags": []})
        content = {"name": name, "source": None, "pack": None, "animated": False, "frame_count": 1,
                   "labels": [], "note": note}
        prepared.append((content, sigs))
    ids: list[int] = []
    with db.session() as s:
        b = bank_row(s, bank)
        records, by_type, _ = _insert_items(s, b.id, prepared, ids)
    return ImportResult(None, records, dict(sorted(by_type.items()))), ids
