"""The change log: one row per committed bank change, for servers to follow.

Every function in ``banks`` that changes a bank, a content item or signals calls
:func:`log_change` inside the SAME transaction, so a change is in the log exactly when
it is committed. On PostgreSQL the insert also runs ``pg_notify('stickerguard_changes',
'<id>')``, delivered at commit, so followers wake up at once (SQLite followers poll).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from ..store.db import Database
from ..store.models import ChangeLog

CHANNEL = "stickerguard_changes"
"""PostgreSQL NOTIFY channel of the change log."""

KINDS = ("bank", "signals", "content")
"""``bank``: bank created/updated/deleted (payload ``{"deleted": true}`` when deleted);
``signals``: signals added (first/last signal id, payload ``{"content_ids": [lo, hi]}``);
``content``: content updated (``{"disabled_until": iso|None}``) or removed
(``{"removed": true, "signal_ids": [...]}``)."""


class Change(NamedTuple):
    """One change-log row (see :data:`KINDS` for what each kind carries)."""

    id: int
    kind: str
    bank_id: int | None
    content_id: int | None
    first_signal_id: int | None
    last_signal_id: int | None
    payload: dict[str, Any]


def log_change(
    s: Session,
    kind: str,
    *,
    bank_id: int | None = None,
    content_id: int | None = None,
    first_signal_id: int | None = None,
    last_signal_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Insert one change-log row in session ``s``'s transaction; returns its id.

    Raises ValueError for a ``kind`` not in :data:`KINDS`. On PostgreSQL also queues
    a NOTIFY on :data:`CHANNEL` (sent when the transaction commits).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown change kind {kind!r}; known: {', '.join(KINDS)}")
    change_id = s.execute(
        insert(ChangeLog)
        .values(kind=kind, bank_id=bank_id, content_id=content_id, first_signal_id=first_signal_id,
                last_signal_id=last_signal_id, payload=payload or {}, created_at=datetime.now(timezone.utc))
        .returning(ChangeLog.id)
    ).scalar_one()
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(change_id)})
    return change_id


def read_changes(db: Database, after_id: int, *, limit: int = 10_000, skip: Sequence[int] = ()) -> list[Change]:
    """Committed changes with ``id > after_id`` (minus ids in ``skip``), oldest first, at most ``limit``."""
    stmt = select(ChangeLog).where(ChangeLog.id > after_id).order_by(ChangeLog.id).limit(limit)
    with db.session() as s:
        rows = s.scalars(stmt).all()
        skipped = set(skip)
        return [
            Change(r.id, r.kind, r.bank_id, r.content_id, r.first_signal_id, r.last_signal_id, dict(r.payload or {}))
            for r in rows
            if r.id not in skipped
        ]


def prune_changes(db: Database, *, older_than: timedelta) -> int:
    """Delete change-log rows created more than ``older_than`` ago; returns rows deleted.

    The newest row is always kept, so change ids never go backwards (SQLite may reuse
    the highest id of an emptied table). A follower that keeps up is never affected: it
    has applied those rows within seconds. A matcher snapshot older than the oldest
    remaining row cannot be brought up to date from the log and is rebuilt instead
    (see :func:`first_change_id`). Raises ValueError for a negative ``older_than``.
    """
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative, got {older_than}")
    cutoff = datetime.now(timezone.utc) - older_than
    with db.session() as s:
        newest = s.scalar(select(func.max(ChangeLog.id)))
        if newest is None:
            return 0
        res = s.execute(delete(ChangeLog).where(ChangeLog.created_at < cutoff, ChangeLog.id < newest))
        return int(res.rowcount or 0)


def first_change_id(db: Database) -> int:
    """The lowest change-log id still stored (0 when the log is empty). A matcher whose
    position is below ``first_change_id(db) - 1`` missed pruned changes."""
    with db.session() as s:
        return int(s.scalar(select(func.coalesce(func.min(ChangeLog.id), 0))))


def last_change_id(db: Database) -> int:
    """The highest change-log id committed so far (0 when the log is empty)."""
    with db.session() as s:
        return int(s.scalar(select(func.coalesce(func.max(ChangeLog.id), 0))))
