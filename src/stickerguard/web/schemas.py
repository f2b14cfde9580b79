"""Pydantic shapes of the HTTP API (they are the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """Every error: stable ``error`` code plus a human ``message`` (StickerguardError.to_dict)."""

    error: str
    message: str
    path: str | None = None
    line: int | None = None
    field: str | None = None


class FrameOut(BaseModel):
    index: int
    timestamp_ms: float
    pdq: str
    quality: int
    sticker_pdq: str | None
    sticker_pdq_quality: int


class SignalsOut(BaseModel):
    """Every signal of one file (PDQ hex 64 chars, MD5 hex 32, SHA-256 hex 64, quality 0..100)."""

    format: str
    width: int
    height: int
    animated: bool
    frame_count: int
    duration_ms: float
    md5: str
    sha256: str
    pdq: str
    quality: int
    sticker_pdq: str | None
    sticker_pdq_quality: int
    frames: list[FrameOut]


class FramesMatchedOut(BaseModel):
    query_matched: int
    query_total: int
    bank_matched: int
    bank_total: int
    bank_covered: int = 0


class MatchOut(BaseModel):
    """One matched bank item (see stickerguard.match.Match); distance in bits."""

    bank: str
    bank_labels: list[str]
    content_id: int
    content_name: str | None
    content_pack: str | None
    labels: list[str]
    signal_type: str
    query_signal: str
    distance: int
    threshold: int
    value: str
    query_frame: int | None
    transform: str
    frames_matched: FramesMatchedOut


class LookupOut(BaseModel):
    """``signals`` is null for lookup by hash."""

    signals: SignalsOut | None
    matches: list[MatchOut]


class BankIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")
    labels: list[str] = Field(default_factory=list, max_length=100)
    threshold: int = Field(31, ge=0, le=256)


class BankPatch(BaseModel):
    threshold: int | None = Field(None, ge=0, le=256)
    labels: list[str] | None = Field(None, max_length=100)
    enabled: bool | None = None


class BankOut(BaseModel):
    id: int
    name: str
    labels: list[str]
    threshold: int
    enabled: bool
    content_count: int
    signal_count: dict[str, int]


class SignalOut(BaseModel):
    signal_type: str
    value: str
    frame_index: int
    quality: int | None
    region: str | None = None


class ContentOut(BaseModel):
    id: int
    bank: str
    name: str | None
    source: str | None
    pack: str | None
    note: str | None
    animated: bool
    frame_count: int
    labels: list[str]
    created_at: datetime
    disabled_until: datetime | None
    enabled: bool
    signals: list[SignalOut]


class ContentPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[ContentOut]


class ContentPatch(BaseModel):
    """``disabled_until``: the item does not match before this time (null: enable now)."""

    note: str | None = Field(None, max_length=10_000)
    disabled_until: datetime | None = None


class SignalsIn(BaseModel):
    """Raw hashes: each item ``{signal type: hex}`` becomes one content item."""

    items: list[dict[str, str]] = Field(min_length=1, max_length=100_000)
    name: str | None = Field(None, max_length=500)
    note: str | None = Field(None, max_length=10_000)


class AddedOut(BaseModel):
    records: int
    signals: dict[str, int]
    content_ids: list[int]


class FileAddedOut(BaseModel):
    content_id: int
    signals: dict[str, int]
    hashes: SignalsOut


class DeletedOut(BaseModel):
    deleted: int


class StatusOut(BaseModel):
    status: str
    loaded: bool
    position: int
    age_s: float | None
    signals: int
    applied: int
    rebuilds: int
    incremental: bool
    staleness_limit_s: float
