"""Every error as JSON ``{"error": code, "message": ...}`` with a fitting HTTP status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import BankError, DecodeError, LimitExceeded, StickerguardError, UnsupportedMedia
from ..service import UrlFetchError, UrlRefused
from .deps import ApiError

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media",
               422: "invalid_request", 503: "unavailable"}


def status_for(exc: StickerguardError) -> int:
    """HTTP status of a typed error: 404 unknown bank/content, 409 duplicate, 413 limit,
    415 unsupported media, 422 undecodable (or it crashed/stalled the sandboxed decoder),
    400 refused URL, 502 failed fetch, else 400."""
    if isinstance(exc, BankError):
        msg = exc.message
        if msg.startswith("no bank named") or " has no content " in msg:
            return 404
        if msg.endswith("already exists"):
            return 409
        return 400
    by_type = {LimitExceeded: 413, UnsupportedMedia: 415, DecodeError: 422, UrlRefused: 400, UrlFetchError: 502}
    for cls, status in by_type.items():
        if isinstance(exc, cls):
            return status
    # the sandbox's errors (stickerguard.isolate): the file killed or stalled its decoder
    return {"decoder_crashed": 422, "decode_timeout": 422}.get(exc.code, 400)


def error_response(status: int, payload: dict, headers: dict[str, str] | None = None) -> JSONResponse:
    """JSON error response."""
    return JSONResponse(payload, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(StickerguardError)
    async def _typed(_req: Request, exc: StickerguardError):
        return error_response(status_for(exc), exc.to_dict())

    @app.exception_handler(ApiError)
    async def _api(_req: Request, exc: ApiError):
        return error_response(exc.status, {"error": exc.code, "message": exc.message}, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, {"error": "invalid_request", "message": f"{where}: {first.get('msg', 'invalid')}",
                                    "field": where or None})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, {"error": code, "message": str(exc.detail)},
                              getattr(exc, "headers", None))

    @app.exception_handler(ValueError)
    async def _value(_req: Request, exc: ValueError):
        return error_response(400, {"error": "invalid_signal", "message": str(exc)})

    @app.exception_handler(RuntimeError)
    async def _runtime(_req: Request, exc: RuntimeError):
        if str(exc) == "index not loaded":
            return error_response(503, {"error": "index_not_ready", "message": "the match index is still loading"})
        raise exc
