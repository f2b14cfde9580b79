"""Fixtures for the HTTP API tests: an app on the ``db`` fixture (SQLite and PostgreSQL),
one token per role, and small helpers. Imported by tests/test_web_*.py."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from stickerguard.auth import ROLES, create_token
from stickerguard.service import Settings
from stickerguard.web import create_app

DATA = Path(__file__).parent / "data"
SMILE = DATA / "whatsapp-sample-packs" / "1" / "01_Cuppy_smile.webp"
LOL = DATA / "whatsapp-sample-packs" / "1" / "02_Cuppy_lol.webp"
SMILE_MD5 = "edce3954fed61bb92dfe27564f8d4262"
SMILE_SHA256 = "4d9b694cfe50d14aa39c3084b8bc472843135990b953f2c8a7a073ffaf5e2198"
SMILE_PDQ = "8d26b0a75e97464fa05a2b7256e9fdadab61aa165c86555a9016aba16ffa5016"
LOL_PDQ = "5a87a643a93e10fc54be8f232ad0799ad569a03d6a8642f11476bf0caffa80b7"


@pytest.fixture
def web_db(db):
    """The shared ``db`` fixture, with the tables of migration 0002 emptied afterwards (PG)."""
    yield db
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE api_tokens, change_log RESTART IDENTITY"))


@pytest.fixture
def tokens(web_db) -> dict[str, str]:
    """One valid token secret per role: ``{"admin": "sg_...", ...}``."""
    return {role: create_token(web_db, f"test-{role}", role)[1] for role in ROLES}


def auth(secret: str) -> dict[str, str]:
    """The Authorization header for ``secret``."""
    return {"Authorization": f"Bearer {secret}"}


def make_client(db, **settings) -> TestClient:
    """A TestClient on ``create_app`` (follower off: tests call ``sync`` to catch up)."""
    app = create_app(Settings(**settings), db=db, follow=False)
    return TestClient(app, raise_server_exceptions=True)


@pytest.fixture
def client(web_db):
    """A started app on ``web_db`` with default settings."""
    with make_client(web_db) as c:
        yield c


def sync(c: TestClient) -> int:
    """Apply pending change-log rows to the app's index now; returns how many."""
    return c.app.state.sg.index.poll()


def png_of(path: Path) -> bytes:
    """``path`` decoded and re-encoded as PNG (new bytes, same pixels)."""
    buf = io.BytesIO()
    Image.open(path).save(buf, format="PNG")
    return buf.getvalue()
