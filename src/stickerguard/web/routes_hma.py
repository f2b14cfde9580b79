"""HMA-compatible subset (``/h``, ``/m``, ``/c``): HMA clients switch by changing the base URL.

Shapes follow Meta's OpenMediaMatch blueprints (hashing, matching, curation); names
are python-threatexchange's (``pdq``, ``video_md5``). Differences: docs/api.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Query, UploadFile
from fastapi.responses import JSONResponse

from .. import banks as B
from ..service import HMA_NAMES, TE_NAMES, add_file, fetch_url, hash_data, te_hashes
from .deps import ApiError, AppState, require, state
from .schemas import ErrorOut

router = APIRouter(tags=["HMA-compatible"], responses={
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
    413: {"model": ErrorOut}, 415: {"model": ErrorOut}, 422: {"model": ErrorOut}})
St = Annotated[AppState, Depends(state)]
Photo = Annotated[UploadFile | None, File(description="An image (HMA content type 'photo').")]
Video = Annotated[UploadFile | None, File(description="A video/animation (HMA content type 'video').")]


def _content_type(value: str | None) -> str:
    if value in (None, "", "photo"):
        return "photo"
    if value == "video":
        return "video"
    raise ApiError(400, "bad_request", f"no such content_type: {value!r}")


def _upload(st: AppState, photo: UploadFile | None, video: UploadFile | None) -> tuple[bytes, str, str]:
    if (photo is None) == (video is None):
        raise ApiError(400, "missing_file", "send exactly one multipart file, field 'photo' or 'video'")
    f, ctype = (photo, "photo") if photo is not None else (video, "video")
    return f.file.read(st.settings.max_body_bytes + 1), (f.filename or "upload")[:200], ctype


def _select(hashes: dict[str, str], types: str | None) -> dict[str, str]:
    if types is None:
        return hashes
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    for t in wanted:
        if t not in hashes:
            raise ApiError(400, "bad_request", f"signal type '{t}' doesn't exist or is disabled")
    if not wanted:
        raise ApiError(400, "bad_request", "empty signal type selection")
    return {t: hashes[t] for t in wanted}


@router.get("/h/hash", response_model=dict[str, str], dependencies=[Depends(require("hash"))])
def h_hash_url(st: St, url: Annotated[str, Query()], content_type: Annotated[str | None, Query()] = None,
               types: Annotated[str | None, Query()] = None):
    """HMA ``GET /h/hash?url=``: ``{signal type: hash}`` of the fetched file."""
    data, name = fetch_url(url, st.settings)
    ctype = _content_type(content_type)
    return _select(te_hashes(hash_data(data, name, st.settings), ctype), types)


@router.post("/h/hash", response_model=dict[str, str], dependencies=[Depends(require("hash"))])
def h_hash(st: St, photo: Photo = None, video: Video = None, types: Annotated[str | None, Query()] = None):
    """HMA ``POST /h/hash``: one multipart file in field ``photo`` or ``video``."""
    data, name, ctype = _upload(st, photo, video)
    return _select(te_hashes(hash_data(data, name, st.settings), ctype), types)


def _banks_of(matches) -> list[str]:
    return sorted({m.bank for m in matches})


def _lookup_file(st: AppState, data: bytes, name: str, ctype: str) -> dict[str, list[str]]:
    sig = hash_data(data, name, st.settings)
    if ctype == "video":
        return {"video_md5": _banks_of(st.index.match_hash("md5", sig.md5))}
    return {"pdq": _banks_of(st.index.match(sig))}


@router.get("/m/lookup", dependencies=[Depends(require("lookup"))],
            response_model=list[str] | dict[str, list[str]])
def m_lookup(st: St, signal: Annotated[str | None, Query(max_length=200)] = None,
             signal_type: Annotated[str | None, Query(max_length=40)] = None,
             url: Annotated[str | None, Query()] = None, content_type: Annotated[str | None, Query()] = None):
    """HMA ``GET /m/lookup``: by hash -> list of matching bank names; by ``url`` -> ``{type: [banks]}``."""
    if url:
        data, name = fetch_url(url, st.settings)
        return _lookup_file(st, data, name, _content_type(content_type))
    if signal is None or signal_type is None:
        raise ApiError(400, "bad_request", "signal and signal_type are required (or url)")
    kind = HMA_NAMES.get(signal_type)
    if kind is None:
        raise ApiError(400, "bad_request", f"No such SignalType '{signal_type}'")
    return _banks_of(st.index.match_hash(kind, signal))


@router.post("/m/lookup", response_model=dict[str, list[str]], dependencies=[Depends(require("lookup"))])
def m_lookup_file(st: St, photo: Photo = None, video: Video = None):
    """HMA ``POST /m/lookup``: ``{signal type: [matching bank names]}`` for the uploaded file."""
    data, name, ctype = _upload(st, photo, video)
    return _lookup_file(st, data, name, ctype)


def _hma_bank(info: B.BankInfo) -> dict:
    return {"name": info.name, "matching_enabled_ratio": 1.0 if info.enabled else 0.0}


@router.get("/c/banks", response_model=list[dict[str, str | float]], dependencies=[Depends(require("banks:read"))])
def c_banks(st: St):
    """HMA ``GET /c/banks``: ``[{"name", "matching_enabled_ratio"}]``."""
    return [_hma_bank(b) for b in B.list_banks(st.db)]


@router.post("/c/banks", status_code=201, response_model=dict[str, str | float],
             dependencies=[Depends(require("banks:write"))])
def c_bank_create(st: St, body: Annotated[dict[str, str | bool | float | int | None], Body()]):
    """HMA ``POST /c/banks`` ``{"name", "enabled"?, "enabled_ratio"?}`` -> 201 bank config.

    ``enabled_ratio`` other than 0 or 1 is refused (stickerguard has no coin flip).
    """
    name = body.get("name")
    if not isinstance(name, str):
        raise ApiError(400, "bad_request", "name is required")
    enabled = True
    if "enabled_ratio" in body:
        ratio = body["enabled_ratio"]
        if ratio not in (0, 1, 0.0, 1.0) or isinstance(ratio, (bool, str)):
            raise ApiError(400, "bad_request", f"enabled_ratio must be 0 or 1 here, got {ratio!r}")
        enabled = ratio == 1
    elif "enabled" in body:
        enabled = body["enabled"] in (True, 1, "1", "true", "True")
    info = B.create_bank(st.db, name)
    if not enabled:
        info = B.update_bank(st.db, name, enabled=False)
    return JSONResponse(_hma_bank(info), status_code=201)


@router.post("/c/bank/{bank_name}/signal", dependencies=[Depends(require("banks:write"))])
def c_bank_signal(st: St, bank_name: str, body: Annotated[dict[str, str], Body()]):
    """HMA ``POST /c/bank/<name>/signal`` ``{signal type: value}`` -> ``{"id", "signals"}``."""
    if not body:
        raise ApiError(400, "bad_request", "No signals given")
    item = {}
    for tname, value in body.items():
        kind = HMA_NAMES.get(tname)
        if kind is None:
            raise ApiError(400, "bad_request", f"No such signal type {tname}")
        item[kind] = value
    _, ids = B.add_signals(st.db, bank_name, [item])
    return {"id": ids[0], "signals": {TE_NAMES[k]: v.lower() for k, v in item.items()}}


@router.post("/c/bank/{bank_name}/content", dependencies=[Depends(require("banks:write"))])
def c_bank_content(st: St, bank_name: str, photo: Photo = None, video: Video = None,
                   url: Annotated[str | None, Query()] = None):
    """HMA ``POST /c/bank/<name>/content`` (file or ``?url=``) -> ``{"id", "signals"}``."""
    if url:
        data, name = fetch_url(url, st.settings)
        ctype = "photo"
    else:
        data, name, ctype = _upload(st, photo, video)
    out = add_file(st.db, bank_name, data, name, st.settings)
    h = out["hashes"]
    return {"id": out["content_id"], "signals": te_hashes_from_json(h, ctype)}


def te_hashes_from_json(h: dict, ctype: str) -> dict[str, str]:
    """HMA ``signals`` of an added file: ``pdq`` (photo) or ``video_md5`` (video)."""
    return {"video_md5": h["md5"]} if ctype == "video" else {"pdq": h["pdq"]}
