"""Request dependencies: the app state and token auth (401 without a valid token, 403 wrong role)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth import TokenCache, TokenInfo, has_permission
from ..service import LiveIndex, Settings
from ..store.db import Database

bearer = HTTPBearer(auto_error=False, description="API token from `stickerguard token create`.")


@dataclass
class AppState:
    """What every request may use: settings, database, live index, token cache."""

    settings: Settings
    db: Database
    index: LiveIndex
    tokens: TokenCache


class ApiError(Exception):
    """An HTTP error with a stable code; rendered as ``{"error", "message"}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


async def state(request: Request) -> AppState:
    """The :class:`AppState` of this app (async: a sync dependency costs a threadpool hop)."""
    return request.app.state.sg


def check_header(st: AppState, header: str, permission: str) -> TokenInfo:
    """Check an ``Authorization`` header value for ``permission`` without FastAPI's
    dependency machinery (hot lookup path); same errors as :func:`require`."""
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "an API token is required (Authorization: Bearer <token>)",
                       {"WWW-Authenticate": "Bearer"})
    info = st.tokens.verify(secret.strip())
    if info is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API token", {"WWW-Authenticate": "Bearer"})
    if not has_permission(info.role, permission):
        raise ApiError(403, "forbidden", f"role {info.role!r} may not {permission}")
    return info


def authorize(request: Request, permission: str) -> TokenInfo:
    """:func:`check_header` on a Starlette request."""
    return check_header(request.app.state.sg, request.headers.get("authorization", ""), permission)


def require(permission: str):
    """Dependency factory: a valid bearer token whose role grants ``permission``.

    Raises ApiError 401 ``unauthorized`` (missing/unknown/revoked token) or 403
    ``forbidden`` (role lacks ``permission``). Returns the TokenInfo.
    """

    async def check(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> TokenInfo:
        if cred is None or cred.scheme.lower() != "bearer":
            raise ApiError(401, "unauthorized", "an API token is required (Authorization: Bearer <token>)",
                           {"WWW-Authenticate": "Bearer"})
        info = request.app.state.sg.tokens.verify(cred.credentials)
        if info is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API token", {"WWW-Authenticate": "Bearer"})
        if not has_permission(info.role, permission):
            raise ApiError(403, "forbidden", f"role {info.role!r} may not {permission}")
        request.state.token = info
        return info

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check
