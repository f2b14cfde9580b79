"""``/v1/banks``: create, list, change and delete banks; browse, add and change content."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, UploadFile

from .. import banks as B
from ..service import add_file
from .deps import AppState, require, state
from .inputs import read_input
from .schemas import (
    AddedOut, BankIn, BankOut, BankPatch, ContentOut, ContentPage, ContentPatch, DeletedOut, ErrorOut,
    FileAddedOut, SignalsIn,
)

router = APIRouter(prefix="/v1/banks", tags=["banks"], responses={
    400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut},
    422: {"model": ErrorOut}})

Name = Annotated[str, Path(max_length=100, description="Bank name.")]
ContentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
St = Annotated[AppState, Depends(state)]
read = [Depends(require("banks:read"))]
write = [Depends(require("banks:write"))]


def _bank(info: B.BankInfo) -> dict:
    d = asdict(info)
    d["labels"] = list(info.labels)
    return d


def _content(c: B.ContentInfo) -> dict:
    d = asdict(c)
    d["labels"] = list(c.labels)
    d["signals"] = list(c.signals)
    d["enabled"] = c.enabled
    return d


@router.get("", response_model=list[BankOut], dependencies=read)
def list_banks(st: St):
    """Every bank, by name."""
    return [_bank(b) for b in B.list_banks(st.db)]


@router.post("", response_model=BankOut, status_code=201, dependencies=write,
             responses={409: {"model": ErrorOut}})
def create_bank(st: St, body: BankIn):
    """Create an empty, enabled bank (409 if the name is taken)."""
    return _bank(B.create_bank(st.db, body.name, labels=body.labels, threshold=body.threshold))


@router.get("/{name}", response_model=BankOut, dependencies=read)
def get_bank(st: St, name: Name):
    """One bank with its content and signal counts."""
    return _bank(B.get_bank(st.db, name))


@router.patch("/{name}", response_model=BankOut, dependencies=write)
def patch_bank(st: St, name: Name, body: BankPatch):
    """Change threshold (bits), labels (replaced) and/or enabled."""
    return _bank(B.update_bank(st.db, name, threshold=body.threshold, labels=body.labels, enabled=body.enabled))


@router.delete("/{name}", response_model=DeletedOut, dependencies=write)
def delete_bank(st: St, name: Name):
    """Delete a bank with all its content; ``deleted`` is its content count."""
    n = B.get_bank(st.db, name).content_count
    B.delete_bank(st.db, name)
    return {"deleted": n}


@router.get("/{name}/content", response_model=ContentPage, dependencies=read)
def browse(st: St, name: Name, offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
           limit: Annotated[int, Query(ge=1, le=B.content.MAX_PAGE)] = 100):
    """Browse a bank's items by id, ``limit`` per page, with their signals."""
    total, items = B.list_contents(st.db, name, offset=offset, limit=limit)
    return {"total": total, "offset": offset, "limit": limit, "items": [_content(c) for c in items]}


@router.post("/{name}/content", response_model=FileAddedOut, status_code=201, dependencies=write,
             responses={413: {"model": ErrorOut}, 415: {"model": ErrorOut}})
def add_content(st: St, name: Name, file: Annotated[UploadFile | None, File()] = None,
                url: Annotated[str | None, Query()] = None,
                note: Annotated[str | None, Form(max_length=10_000)] = None):
    """Hash a file (or ``?url=``) and add it as one item, with bank-side canonical variants."""
    data, fname = read_input(st, file, url)
    return add_file(st.db, name, data, fname, st.settings, note=note)


@router.post("/{name}/signals", response_model=AddedOut, status_code=201, dependencies=write)
def add_signals(st: St, name: Name, body: Annotated[SignalsIn, Body()]):
    """Add raw hashes in bulk, all or nothing: each ``{type: hex}`` item is one content item."""
    res, ids = B.add_signals(st.db, name, body.items, name=body.name, note=body.note)
    return {"records": res.records, "signals": res.by_type, "content_ids": ids}


@router.get("/{name}/content/{content_id}", response_model=ContentOut, dependencies=read)
def get_content(st: St, name: Name, content_id: ContentId):
    """One item with its signals."""
    return _content(B.get_content(st.db, name, content_id))


@router.patch("/{name}/content/{content_id}", response_model=ContentOut, dependencies=write)
def patch_content(st: St, name: Name, content_id: ContentId, body: ContentPatch):
    """Set the note and/or disable the item until a date (null enables it again)."""
    fields = body.model_dump(exclude_unset=True)
    return _content(B.update_content(st.db, name, content_id, **fields))


@router.delete("/{name}/content/{content_id}", response_model=DeletedOut, dependencies=write)
def delete_content(st: St, name: Name, content_id: ContentId):
    """Remove an item; ``deleted`` is the number of its signals removed."""
    return {"deleted": B.delete_content(st.db, name, content_id)}
