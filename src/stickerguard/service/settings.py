"""Server settings (all limits configurable; generous defaults)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_UPLOAD_BYTES = {
    "webp": 16 * 1024 * 1024,
    "png": 16 * 1024 * 1024,
    "jpeg": 16 * 1024 * 1024,
    "gif": 32 * 1024 * 1024,
    "bmp": 32 * 1024 * 1024,
    "tgs": 2 * 1024 * 1024,
    "webm": 64 * 1024 * 1024,
    "mp4": 64 * 1024 * 1024,
}
"""Largest upload per sniffed format, in bytes (sticker platforms allow far less)."""


@dataclass
class Settings:
    """Everything ``stickerguard serve`` can be told.

    Attributes:
        db_url: SQLAlchemy URL (None: ``$STICKERGUARD_DB`` or the user data dir).
        staleness_s: ``/status`` answers 503 when the last successful change-log
            check is older than this, in seconds.
        poll_interval_s: change-log poll period in seconds (SQLite; PostgreSQL is
            woken by NOTIFY and polls at this period only as a safety net).
        max_body_bytes: largest request body, in bytes (413 ``body_too_large`` above).
        upload_bytes: largest upload per format, bytes (413 ``limit_exceeded``).
        request_timeout_s: per-request time limit in seconds (503 ``timeout``).
        url_fetch: allow ``?url=`` on hash/lookup/content routes (off by default).
        url_allow_hosts: host names ``?url=`` may fetch from (exact, lowercase).
        url_max_bytes: largest fetched body, bytes. ``url_timeout_s``: whole fetch, seconds.
        url_allow_private: TESTS ONLY: skip the private/loopback address refusal.
        resolver: ``host -> [ip strings]`` (default ``socket.getaddrinfo``); tests inject one.
        token_ttl_s: how long a verified token is cached per process, in seconds.
        hash_variants: hash uploads with the flattened canonical variants too.
        index_dir: folder for matcher snapshots (``Matcher.save``): workers load the
            snapshot and apply the change log after it instead of reading every hash
            (None: always build from the database).
        lookup_fast_path: answer ``GET /v1/lookup`` from the ASGI middleware (same
            behaviour, about half the CPU per request); False: through FastAPI.
        index_threads: OpenMP threads faiss may use per process (1: a single lookup
            gains nothing from more, and spinning OpenMP threads of several workers on
            few cores made lookups ~200x slower under load).
    """

    db_url: str | None = None
    staleness_s: float = 30.0
    poll_interval_s: float = 0.25
    max_body_bytes: int = 80 * 1024 * 1024
    upload_bytes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_UPLOAD_BYTES))
    request_timeout_s: float = 30.0
    url_fetch: bool = False
    url_allow_hosts: tuple[str, ...] = ()
    url_max_bytes: int = 16 * 1024 * 1024
    url_timeout_s: float = 10.0
    url_allow_private: bool = False
    resolver: Callable[[str], list[str]] | None = None
    token_ttl_s: float = 5.0
    hash_variants: bool = False
    index_threads: int = 1
    index_dir: str | None = None
    lookup_fast_path: bool = True

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Settings from ``STICKERGUARD_*`` environment variables, then ``overrides``.

        Reads ``STICKERGUARD_DB``, ``_STALENESS_S``, ``_POLL_S``, ``_MAX_BODY_BYTES``,
        ``_REQUEST_TIMEOUT_S``, ``_URL_FETCH`` (``1``/``0``), ``_URL_ALLOW_HOSTS``
        (comma-separated), ``_URL_MAX_BYTES``, ``_URL_TIMEOUT_S``, ``_INDEX_THREADS``, ``_INDEX_DIR``. Raises ValueError for
        a malformed number.
        """
        env = os.environ
        s = cls()
        s.db_url = env.get("STICKERGUARD_DB") or None
        num = {"STALENESS_S": ("staleness_s", float), "POLL_S": ("poll_interval_s", float),
               "MAX_BODY_BYTES": ("max_body_bytes", int), "REQUEST_TIMEOUT_S": ("request_timeout_s", float),
               "URL_MAX_BYTES": ("url_max_bytes", int), "URL_TIMEOUT_S": ("url_timeout_s", float),
               "INDEX_THREADS": ("index_threads", int)}
        for key, (attr, conv) in num.items():
            if f"STICKERGUARD_{key}" in env:
                setattr(s, attr, conv(env[f"STICKERGUARD_{key}"]))
        s.index_dir = env.get("STICKERGUARD_INDEX_DIR") or None
        s.url_fetch = env.get("STICKERGUARD_URL_FETCH", "0") == "1"
        hosts = env.get("STICKERGUARD_URL_ALLOW_HOSTS", "")
        s.url_allow_hosts = tuple(h.strip().lower() for h in hosts.split(",") if h.strip())
        for k, v in overrides.items():
            setattr(s, k, v)
        return s
