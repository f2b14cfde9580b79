"""Bank operations: create, look up, list, update, delete; and the matcher's loader."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import BankError
from ..store.db import Database
from .changes import log_change
from ..store.models import Bank, BankContent, BankSignal

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


@dataclass(frozen=True)
class BankInfo:
    """A bank and its sizes.

    Attributes:
        id, name: database id and unique name.
        labels: the bank's labels, e.g. ``("csam", "A1")``.
        threshold: PDQ match distance in bits (0..256).
        enabled: disabled banks are not loaded by :func:`iter_bank_signals`.
        content_count: BankContent rows (stickers / hash-list entries).
        signal_count: signals by type, e.g. ``{"pdq": 3, "md5": 1}`` (types absent
            from the bank are absent from the dict); see :attr:`total_signals`.
    """

    id: int
    name: str
    labels: tuple[str, ...]
    threshold: int
    enabled: bool
    content_count: int
    signal_count: dict[str, int]

    @property
    def total_signals(self) -> int:
        """Sum of :attr:`signal_count`."""
        return sum(self.signal_count.values())

    __hash__ = None  # type: ignore[assignment]  # signal_count is a dict


def check_name(name: object) -> str:
    """Return ``name`` if it is 1-100 chars of ``[A-Za-z0-9_.-]``; else raise BankError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise BankError(
            f"bad bank name {name!r}: use 1-100 characters from A-Z a-z 0-9 _ . -", field="name"
        )
    return name


def _check_threshold(threshold: object) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 256:
        raise BankError(f"threshold must be an integer 0..256 (bits), got {threshold!r}", field="threshold")
    return threshold


def _check_labels(labels: Iterable[str]) -> list[str]:
    if isinstance(labels, str):
        raise BankError(f"labels must be a list of strings, got the string {labels!r}", field="labels")
    out = []
    for label in labels:
        if not isinstance(label, str) or not label.strip():
            raise BankError(f"bad label {label!r}: labels are non-empty strings", field="labels")
        out.append(label.strip())
    return out


def bank_row(s: Session, name: str) -> Bank:
    """The Bank row named ``name`` in session ``s``; raises BankError "no bank named 'x'"."""
    bank = s.scalars(select(Bank).where(Bank.name == name)).one_or_none()
    if bank is None:
        raise BankError(f"no bank named {name!r}", field="bank")
    return bank


def _infos(s: Session, banks: Sequence[Bank]) -> list[BankInfo]:
    ids = [b.id for b in banks]
    if not ids:
        return []
    contents = dict(
        s.execute(
            select(BankContent.bank_id, func.count()).where(BankContent.bank_id.in_(ids)).group_by(BankContent.bank_id)
        ).all()
    )
    signals: dict[int, dict[str, int]] = {i: {} for i in ids}
    for bank_id, stype, n in s.execute(
        select(BankSignal.bank_id, BankSignal.signal_type, func.count())
        .where(BankSignal.bank_id.in_(ids))
        .group_by(BankSignal.bank_id, BankSignal.signal_type)
    ):
        signals[bank_id][stype] = n
    return [
        BankInfo(
            id=b.id,
            name=b.name,
            labels=tuple(b.labels),
            threshold=b.threshold,
            enabled=b.enabled,
            content_count=contents.get(b.id, 0),
            signal_count=dict(sorted(signals[b.id].items())),
        )
        for b in banks
    ]


def create_bank(db: Database, name: str, *, labels: Iterable[str] = (), threshold: int = 31) -> BankInfo:
    """Create an empty, enabled bank.

    Args:
        name: 1-100 chars of ``[A-Za-z0-9_.-]``, unique.
        labels: reported with every match from this bank.
        threshold: PDQ match distance in bits, 0..256 (31 = Meta's default).
    Raises BankError: bad name, bad threshold, or "bank 'x' already exists".
    """
    check_name(name)
    _check_threshold(threshold)
    labels_ = _check_labels(labels)
    try:
        with db.session() as s:
            if s.scalar(select(Bank.id).where(Bank.name == name)) is not None:
                raise BankError(f"bank {name!r} already exists", field="name")
            bank = Bank(name=name, labels=labels_, threshold=threshold, enabled=True)
            s.add(bank)
            s.flush()
            log_change(s, "bank", bank_id=bank.id)
            return _infos(s, [bank])[0]
    except IntegrityError:  # created concurrently between the check and the insert
        raise BankError(f"bank {name!r} already exists", field="name") from None


def get_bank(db: Database, name: str) -> BankInfo:
    """The :class:`BankInfo` of bank ``name``; raises BankError "no bank named 'x'"."""
    with db.session() as s:
        return _infos(s, [bank_row(s, name)])[0]


def list_banks(db: Database) -> list[BankInfo]:
    """Every bank (enabled or not), ordered by name."""
    with db.session() as s:
        return _infos(s, s.scalars(select(Bank).order_by(Bank.name)).all())


def update_bank(
    db: Database,
    name: str,
    *,
    threshold: int | None = None,
    labels: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> BankInfo:
    """Change the given settings of bank ``name`` (None = leave as is); returns the new info.

    ``labels`` replaces the whole list. Raises BankError for an unknown bank or a
    threshold outside 0..256.
    """
    if threshold is not None:
        _check_threshold(threshold)
    labels_ = None if labels is None else _check_labels(labels)
    with db.session() as s:
        bank = bank_row(s, name)
        if threshold is not None:
            bank.threshold = threshold
        if labels_ is not None:
            bank.labels = labels_
        if enabled is not None:
            bank.enabled = bool(enabled)
        s.flush()
        log_change(s, "bank", bank_id=bank.id)
        return _infos(s, [bank])[0]


def delete_bank(db: Database, name: str) -> None:
    """Delete bank ``name`` with all its contents and signals (database cascade).

    Raises BankError "no bank named 'x'".
    """
    with db.session() as s:
        bank_id = bank_row(s, name).id
        s.execute(delete(BankSignal).where(BankSignal.bank_id == bank_id))
        s.execute(delete(BankContent).where(BankContent.bank_id == bank_id))
        s.execute(delete(Bank).where(Bank.id == bank_id))
        log_change(s, "bank", bank_id=bank_id, payload={"deleted": True})


class BankSignalRow(NamedTuple):
    """One bank signal with its content and bank, as :func:`iter_bank_signals` yields it.

    The matcher reads these fields by attribute name, so any row object with the same
    attributes (an SQLAlchemy ``Row``, another NamedTuple) works.

    Attributes:
        signal_id: ``bank_signals.id``; unique; used as the index id.
        bank_id, bank_name: the bank; ``bank_threshold`` is its PDQ match distance in
            bits (0..256, inclusive); ``bank_labels`` its labels.
        content_id, content_name, content_pack, content_labels: the bank item.
        content_frame_count: frames hashed for the item (1 for static stickers and
            hash-list entries; > 1 makes the animation rule apply).
        animated: the item is an animation (informational; the rule uses the frame count).
        signal_type: ``pdq``, ``sticker_pdq``, ``md5`` or ``sha256``.
        value: the hash, hex (64 chars for PDQ/SHA-256, 32 for MD5).
        frame_index: source frame of the hash (0 for static items).
        quality: PDQ quality 0..100, or None when unknown (imported hash lists).
        region: for an occluded ``sticker_pdq``, the canvas region it has erased (a name
            of ``signals.base.REGIONS``; matched only by query hashes with the same
            region erased); None for whole-drawing hashes.
        bank_enabled: False rows are skipped when loading (default True, so rows
            without this attribute count as enabled).
    """

    signal_id: int
    bank_id: int
    bank_name: str
    bank_threshold: int
    bank_labels: Sequence[str]
    content_id: int
    content_name: str | None
    content_pack: str | None
    content_labels: Sequence[str]
    content_frame_count: int
    animated: bool
    signal_type: str
    value: str
    frame_index: int = 0
    quality: int | None = None
    bank_enabled: bool = True
    region: str | None = None


def iter_bank_signals(
    db: Database,
    bank_names: Iterable[str] | None = None,
    *,
    include_disabled: bool = False,
    bank_id: int | None = None,
    signal_ids: tuple[int, int] | None = None,
    content_ids: tuple[int, int] | None = None,
) -> Iterator[BankSignalRow]:
    """Every signal of the enabled banks (or of the named ones, if enabled), by signal id.

    Content items whose ``disabled_until`` is in the future are left out unless
    ``include_disabled`` (servers filter those at match time instead, so that they come
    back when the date passes). ``bank_id``, ``signal_ids`` and ``content_ids``
    (inclusive ``(lo, hi)`` ranges) narrow the query; change-log followers use them.
    One streamed SELECT of columns (no ORM objects), fetched 10 000 rows at a time.
    Raises BankError "no bank named 'x'" if a name in ``bank_names`` does not exist.
    """
    stmt = (
        select(
            BankSignal.id,
            Bank.id,
            Bank.name,
            Bank.threshold,
            Bank.labels,
            BankContent.id,
            BankContent.name,
            BankContent.pack,
            BankContent.labels,
            BankContent.frame_count,
            BankContent.animated,
            BankSignal.signal_type,
            BankSignal.value,
            BankSignal.frame_index,
            BankSignal.quality,
            BankSignal.region,
        )
        .join(BankContent, BankSignal.content_id == BankContent.id)
        .join(Bank, BankSignal.bank_id == Bank.id)
        .where(Bank.enabled.is_(True))
        .order_by(BankSignal.id)
    )
    if not include_disabled:
        now = datetime.now(timezone.utc)
        stmt = stmt.where(or_(BankContent.disabled_until.is_(None), BankContent.disabled_until <= now))
    if bank_id is not None:
        stmt = stmt.where(BankSignal.bank_id == bank_id)
    if signal_ids is not None:
        stmt = stmt.where(BankSignal.id.between(*signal_ids))
    if content_ids is not None:
        stmt = stmt.where(BankSignal.content_id.between(*content_ids))
    if bank_names is not None:
        names = list(bank_names)
        with db.session() as s:
            found = set(s.scalars(select(Bank.name).where(Bank.name.in_(names))))
        for n in names:
            if n not in found:
                raise BankError(f"no bank named {n!r}", field="bank")
        stmt = stmt.where(Bank.name.in_(names))
    return _stream(db, stmt)  # names checked eagerly above, rows fetched lazily


def _stream(db: Database, stmt) -> Iterator[BankSignalRow]:
    bank_labels: dict[int, tuple[str, ...]] = {}
    with db.engine.connect() as conn:
        result = conn.execution_options(yield_per=10_000).execute(stmt)
        for row in result:
            r = tuple(row)
            bl = bank_labels.get(r[1])
            if bl is None:
                bl = bank_labels[r[1]] = tuple(r[4])
            yield BankSignalRow(r[0], r[1], r[2], r[3], bl, r[5], r[6], r[7], tuple(r[8]), r[9], r[10],
                                r[11], r[12], r[13], r[14], True, r[15])
