"""API tokens: ``sg_`` + ``secrets.token_urlsafe(32)``, stored only as their SHA-256.

A token is 256 bits of randomness, so a plain (unsalted) SHA-256 is enough to store
it: there is nothing to brute-force, and lookups stay one indexed equality query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from ..errors import StickerguardError
from ..store.db import Database
from ..store.models import ApiToken

ROLES = ("admin", "curator", "submitter", "reviewer")
"""Token roles, from most to least powerful."""

PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"hash", "lookup", "banks:read", "banks:write", "review"}),
    "curator": frozenset({"hash", "lookup", "banks:read", "banks:write"}),
    "submitter": frozenset({"hash", "lookup"}),
    "reviewer": frozenset({"banks:read", "review"}),
}
"""What each role may do: ``hash`` (POST /v1/hash), ``lookup`` (lookups),
``banks:read`` (list/browse banks), ``banks:write`` (create/change banks and their
content), ``review`` (the review UI, later)."""

TOKEN_PREFIX = "sg_"
_NAME = re.compile(r"^[^\x00-\x1f]{1,100}$")


class AuthError(StickerguardError):
    """A token operation failed: bad role or name, unknown token id."""

    code = "auth_error"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without its secret.

    Attributes: ``id``, ``name``, ``role`` (one of :data:`ROLES`), ``prefix`` (first 8
    characters of the secret, to recognise it), ``created_at``, ``revoked_at``
    (None while valid), all times UTC.
    """

    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.role, row.prefix, _utc(row.created_at), _utc(row.revoked_at))


def hash_secret(secret: str) -> str:
    """SHA-256 of the token secret (UTF-8) as 64 lowercase hex chars."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def has_permission(role: str, permission: str) -> bool:
    """True if ``role`` grants ``permission`` (see :data:`PERMISSIONS`); unknown roles grant nothing."""
    return permission in PERMISSIONS.get(role, frozenset())


def create_token(db: Database, name: str, role: str) -> tuple[TokenInfo, str]:
    """Create a token; returns its info and the secret (``sg_`` + 43 url-safe chars).

    The secret is shown once: only its SHA-256 is stored. Raises AuthError for a role
    not in :data:`ROLES` or a name that is empty, over 100 chars or has control chars.
    """
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role")
    if not isinstance(name, str) or not _NAME.match(name):
        raise AuthError(f"bad token name {name!r}: 1-100 characters, no control characters", field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.session() as s:
        row = ApiToken(name=name, role=role, token_hash=hash_secret(secret), prefix=secret[:8],
                       created_at=datetime.now(timezone.utc))
        s.add(row)
        s.flush()
        return _info(row), secret


def list_tokens(db: Database, *, include_revoked: bool = False) -> list[TokenInfo]:
    """Tokens by id (valid ones only unless ``include_revoked``)."""
    stmt = select(ApiToken).order_by(ApiToken.id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    with db.session() as s:
        return [_info(r) for r in s.scalars(stmt)]


def revoke_token(db: Database, token_id: int) -> TokenInfo:
    """Revoke token ``token_id`` (idempotent); raises AuthError "no token with id N"."""
    with db.session() as s:
        row = s.get(ApiToken, token_id)
        if row is None:
            raise AuthError(f"no token with id {token_id}", field="id")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(timezone.utc)
        s.flush()
        return _info(row)


def verify_token(db: Database, secret: str) -> TokenInfo | None:
    """The valid token whose secret is ``secret``, or None (unknown, revoked or malformed)."""
    if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    with db.session() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret))).one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        return _info(row)


class TokenCache:
    """Per-process cache of :func:`verify_token` answers, ``ttl_s`` seconds each.

    Keeps the database off the hot path (one query per token per ``ttl_s``); a revoked
    token therefore stops working within ``ttl_s`` seconds on every server. Thread-safe.
    """

    def __init__(self, db: Database, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self.db, self.ttl_s, self.max_entries = db, ttl_s, max_entries
        self._cache: dict[str, tuple[float, TokenInfo | None]] = {}
        self._lock = threading.Lock()

    def verify(self, secret: str) -> TokenInfo | None:
        """Like :func:`verify_token`, cached by the secret's SHA-256."""
        key = hash_secret(secret) if isinstance(secret, str) else ""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        info = verify_token(self.db, secret)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[key] = (now, info)
        return info
