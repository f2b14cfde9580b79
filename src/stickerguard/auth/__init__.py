"""Auth: API tokens (shown once, stored as SHA-256) and the roles that gate the HTTP API.

Public surface::

    ROLES = ("admin", "curator", "submitter", "reviewer");  PERMISSIONS[role] -> set[str]
    create_token(db, name, role) -> (TokenInfo, secret)   # the only time the secret exists
    list_tokens(db, *, include_revoked=False) -> [TokenInfo]
    revoke_token(db, token_id) -> TokenInfo
    verify_token(db, secret) -> TokenInfo | None            # None: unknown or revoked
    TokenCache(db, ttl_s=5.0).verify(secret)                # per-process cache for servers
    has_permission(role, permission) -> bool
"""

from .tokens import (
    PERMISSIONS,
    ROLES,
    TokenCache,
    TokenInfo,
    create_token,
    has_permission,
    hash_secret,
    list_tokens,
    revoke_token,
    verify_token,
)

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "TokenCache",
    "TokenInfo",
    "create_token",
    "has_permission",
    "hash_secret",
    "list_tokens",
    "revoke_token",
    "verify_token",
]
