"""Shared request inputs: the uploaded file or ``?url=``, and the ``banks`` filter."""

from __future__ import annotations

from fastapi import UploadFile

from ..service import fetch_url
from .deps import ApiError, AppState


def read_input(st: AppState, file: UploadFile | None, url: str | None) -> tuple[bytes, str]:
    """``(bytes, name)`` of the upload, or of ``url`` fetched under the URL rules.

    Raises ApiError 400 ``missing_file`` when neither or both are given, UrlRefused /
    UrlFetchError from fetching.
    """
    if (file is None) == (url is None):
        raise ApiError(400, "missing_file", "send exactly one of: a multipart 'file' upload, or ?url=")
    if url is not None:
        return fetch_url(url, st.settings)
    name = (file.filename or "upload")[:200]
    cap = st.settings.max_body_bytes
    data = file.file.read(cap + 1)
    return data, name


def bank_filter(banks: list[str] | None) -> list[str] | None:
    """``?banks=a,b`` or ``?banks=a&banks=b`` -> ``["a", "b"]``; absent -> None (all banks)."""
    if not banks:
        return None
    out = [b.strip() for item in banks for b in item.split(",") if b.strip()]
    return out or None
