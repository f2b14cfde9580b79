"""``/status`` (readiness), ``/status/live`` and ``/metrics`` (Prometheus): no token needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from .deps import AppState, state
from .schemas import StatusOut

router = APIRouter(tags=["status"])


@router.get("/status", response_model=StatusOut, responses={503: {"model": StatusOut}})
def status(st: Annotated[AppState, Depends(state)]):
    """Ready (200) when the index is loaded and its last change-log check is younger than
    the staleness limit; otherwise 503 with the same body."""
    s = st.index.status()
    limit = st.settings.staleness_s
    ok = s["loaded"] and s["age_s"] is not None and s["age_s"] <= limit
    body = {"status": "ok" if ok else ("stale" if s["loaded"] else "loading"), **s, "staleness_limit_s": limit}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/status/live")
async def live():
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/metrics", response_class=Response)
def metrics(request: Request):
    """Prometheus text format: requests by route/method/status, latency histogram, index size."""
    return request.app.state.metrics.render()
