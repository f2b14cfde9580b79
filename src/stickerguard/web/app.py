"""The FastAPI app factory: ``create_app(settings)``; uvicorn factory ``app_from_env``."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ..auth import TokenCache
from ..service import LiveIndex, Settings
from ..store.db import Database, open_db
from . import errors, routes_banks, routes_hma, routes_match, routes_status
from .deps import AppState
from .middleware import Guard, Metrics

log = logging.getLogger("stickerguard.web")

DESCRIPTION = """Hash, match and bank API of stickerguard.

Every route except `/status*` and `/metrics` needs `Authorization: Bearer <token>`
(`stickerguard token create --role ...`). Errors are JSON: `{"error": code, "message": ...}`.
The `/h`, `/m` and `/c` routes are a subset compatible with Meta's HMA (see docs/api.md)."""


def create_app(settings: Settings | None = None, *, db: Database | None = None, follow: bool = True) -> FastAPI:
    """Build the app. The index loads (and the change-log follower starts, unless
    ``follow`` is False) when the app starts, i.e. in uvicorn's or TestClient's lifespan.

    Args:
        settings: server settings (default :meth:`Settings.from_env`).
        db: an open Database (default: ``open_db(settings.db_url)``, migrated to head).
    """
    settings = settings or Settings.from_env()
    if settings.index_threads > 0:
        import faiss

        faiss.omp_set_num_threads(settings.index_threads)
    db = db or open_db(settings.db_url)
    index = LiveIndex(db, poll_interval_s=settings.poll_interval_s, index_dir=settings.index_dir)
    st = AppState(settings=settings, db=db, index=index, tokens=TokenCache(db, ttl_s=settings.token_ttl_s))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        import anyio

        from ..isolate import prestart

        prestart()  # decoder workers warm up while the index loads, not on the first upload
        await anyio.to_thread.run_sync(index.load)
        if follow:
            index.start()
        log.info("index loaded: %s", index.status())
        try:
            yield
        finally:
            index.stop()
            if settings.index_dir and index.applied:
                await anyio.to_thread.run_sync(index.save)  # next start replays fewer changes

    app = FastAPI(title="stickerguard", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.sg = st
    app.state.metrics = Metrics(index)
    errors.install(app)
    for r in (routes_status, routes_match, routes_banks, routes_hma):
        app.include_router(r.router)
    app.add_middleware(Guard, max_body_bytes=settings.max_body_bytes, timeout_s=settings.request_timeout_s,
                       metrics=app.state.metrics, state=st if settings.lookup_fast_path else None)
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory (``--factory``): settings from ``STICKERGUARD_*`` variables."""
    return create_app(Settings.from_env())
