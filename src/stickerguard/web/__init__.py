"""HTTP API (FastAPI): routers per area, no business logic (that is in ``service``).

Public surface::

    create_app(settings=None, *, db=None, follow=True) -> FastAPI
    app_from_env() -> FastAPI        # uvicorn --factory stickerguard.web:app_from_env
"""

from .app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
