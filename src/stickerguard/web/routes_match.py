"""``/v1/hash`` and ``/v1/lookup``: hash a file; match a file or one hash."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from ..service import hash_data, lookup_data, signals_json
from .deps import ApiError, AppState, authorize, require, state
from .inputs import bank_filter, read_input
from .schemas import ErrorOut, LookupOut, SignalsOut

router = APIRouter(prefix="/v1", tags=["hash and lookup"], responses={
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": ErrorOut},
    415: {"model": ErrorOut}, 422: {"model": ErrorOut}})

UrlQ = Annotated[str | None, Query(description="Fetch the file from this URL (server option, off by default).")]
BanksQ = Annotated[list[str] | None, Query(description="Only these banks (repeat or comma-separate).")]


@router.post("/hash", response_model=SignalsOut, dependencies=[Depends(require("hash"))])
def hash_file(st: Annotated[AppState, Depends(state)], file: Annotated[UploadFile | None, File()] = None,
              url: UrlQ = None):
    """Every signal of one file: plain and canonical PDQ with quality, MD5, SHA-256, frames."""
    data, name = read_input(st, file, url)
    return signals_json(hash_data(data, name, st.settings))


@router.post("/lookup", response_model=LookupOut, dependencies=[Depends(require("lookup"))])
def lookup_file(st: Annotated[AppState, Depends(state)], file: Annotated[UploadFile | None, File()] = None,
                url: UrlQ = None, banks: BanksQ = None):
    """Hash a file and return its signals and every match (bank, content, labels, type, distance)."""
    data, name = read_input(st, file, url)
    return lookup_data(st.index, data, name, st.settings, bank_filter(banks))


_LOOKUP_PARAMS = [
    {"name": "signal", "in": "query", "required": True, "description": "The hash, hex.",
     "schema": {"type": "string", "maxLength": 200}},
    {"name": "signal_type", "in": "query", "required": False,
     "description": "pdq, sticker_pdq, md5, sha256 (or video_md5, video_sha256).",
     "schema": {"type": "string", "maxLength": 40, "default": "pdq"}},
    {"name": "banks", "in": "query", "required": False, "description": "Only these banks (repeat or comma-separate).",
     "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": True},
]


@router.get("/lookup", response_model=LookupOut,
            openapi_extra={"parameters": _LOOKUP_PARAMS, "security": [{"HTTPBearer": []}]})
async def lookup_hash(request: Request):
    """Look up one hash: every bank item holding a signal within its bank's threshold.

    The hot path: parameters and token are read by hand (FastAPI's dependency solving
    cost more than the index search); the schema above documents them.
    """
    from ..service import HMA_NAMES

    authorize(request, "lookup")
    q = request.query_params
    signal, signal_type = q.get("signal"), q.get("signal_type", "pdq")
    if signal is None:
        raise ApiError(422, "invalid_request", "query.signal: Field required")
    if len(signal) > 200 or len(signal_type) > 40:
        raise ApiError(422, "invalid_request", "query: signal or signal_type is too long")
    kind = HMA_NAMES.get(signal_type, signal_type)
    matches = request.app.state.sg.index.match_hash(kind, signal, banks=bank_filter(q.getlist("banks")))
    # the shape is LookupOut by construction; skip re-validating it
    return JSONResponse({"signals": None, "matches": [m.to_dict() for m in matches]})
