"""SQLAlchemy 2 models: banks, their content items, and the signals (hashes) they hold.

One schema for SQLite and PostgreSQL; changes go through Alembic migrations in
``store/migrations`` (never ``create_all`` outside tests of the migration itself).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> datetime:
    return datetime.now(timezone.utc)


#: Constraint names are fixed so that Alembic migrations (and SQLite batch mode) can
#: refer to them identically on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every stickerguard table (metadata uses ``NAMING_CONVENTION``)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Bank(Base):
    """A named hash list with labels and a match threshold.

    Columns: ``name`` (unique, 1-100 chars), ``labels`` (JSON list of str, e.g.
    ``["csam", "A1"]``), ``threshold`` (PDQ match distance in bits, 0..256, default 31),
    ``enabled``, ``created_at`` (UTC).
    """

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    labels: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    threshold: Mapped[int] = mapped_column(Integer, nullable=False, default=31)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=_now)

    contents: Mapped[list["BankContent"]] = relationship(
        back_populates="bank", cascade="all, delete-orphan", passive_deletes=True
    )


class BankContent(Base):
    """One item in a bank: a sticker or image (all its signals), or a hash-list entry.

    Columns: ``name`` (file name or hash-list reference), ``source`` (path or hash-list
    file it came from), ``pack`` (pack identifier/name, if any), ``animated``,
    ``frame_count`` (sampled frames hashed, 1 for static), ``labels`` (JSON list, in
    addition to the bank's), ``note``, ``created_at``, ``disabled_until`` (UTC; the
    item does not match before then; None = enabled; migration 0002).
    """

    __tablename__ = "bank_contents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), nullable=False, index=True)
    name: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(Text)
    pack: Mapped[str | None] = mapped_column(String(500))
    animated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    frame_count: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    labels: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=_now)
    #: matches on this item are not reported before this UTC time (None = enabled)
    disabled_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    bank: Mapped[Bank] = relationship(back_populates="contents")
    signals: Mapped[list["BankSignal"]] = relationship(
        back_populates="content", cascade="all, delete-orphan", passive_deletes=True
    )


class BankSignal(Base):
    """One hash of a content item.

    Columns: ``signal_type`` (``pdq``, ``sticker_pdq``, ``md5``, ``sha256``), ``value``
    (lowercase hex), ``frame_index`` (source frame for animations, else 0),
    ``quality`` (PDQ quality 0..100, null when unknown, e.g. imported hash lists),
    ``category``/``collab``/``tags`` (from python-threatexchange CSV or header CSV),
    ``region`` (``sticker_pdq`` only: the canvas region an occluded canonical form has
    erased, a name of ``signals.base.REGIONS``; null = the whole drawing; migration 0003).
    ``bank_id`` is denormalised for fast per-bank loading.
    """

    __tablename__ = "bank_signals"
    __table_args__ = (Index("ix_bank_signals_type_value", "signal_type", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), nullable=False, index=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("bank_contents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    signal_type: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(String(128), nullable=False)
    frame_index: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quality: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(200))
    collab: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    region: Mapped[str | None] = mapped_column(String(20))

    content: Mapped[BankContent] = relationship(back_populates="signals")


class ApiToken(Base):
    """An HTTP API token (migration 0002). The secret itself is never stored.

    Columns: ``name`` (who/what uses it, 1-100 chars), ``role`` (``admin``,
    ``curator``, ``submitter`` or ``reviewer``), ``token_hash`` (SHA-256 of the secret
    as 64 lowercase hex chars, unique), ``prefix`` (first 8 chars of the secret, shown
    in listings), ``created_at``, ``revoked_at`` (None while valid), ``last_used_at``.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChangeLog(Base):
    """One committed bank change, written in the SAME transaction as the change (0002).

    Servers follow this table (LISTEN/NOTIFY on PostgreSQL, polling on SQLite) to
    update their in-memory matcher incrementally. Columns: ``kind`` (``bank``:
    bank created/updated/deleted; ``signals``: signals added; ``content``: content
    updated or removed), ``bank_id``, ``content_id``, ``first_signal_id`` /
    ``last_signal_id`` (inclusive id range added, for ``signals``), ``payload`` (JSON
    object, e.g. ``{"signal_ids": [...]}`` of a removed content), ``created_at``.
    """

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    bank_id: Mapped[int | None] = mapped_column(Integer)
    content_id: Mapped[int | None] = mapped_column(Integer)
    first_signal_id: Mapped[int | None] = mapped_column(Integer)
    last_signal_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=_now)
