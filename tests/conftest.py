"""Shared fixtures: ``db`` = a migrated stickerguard Database on SQLite AND PostgreSQL.

PostgreSQL: ``$STICKERGUARD_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test session (each
xdist worker) migrates a fresh schema ``sg_test_<random>`` (search_path set on the
engine) and drops it at the end; tables are truncated after every test. If the
server is unreachable the PostgreSQL tests ERROR, unless ``STICKERGUARD_TEST_PG=skip``.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from stickerguard.store import open_db

PG_URL = os.environ.get("STICKERGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def pg_database():
    """A Database on a fresh PostgreSQL schema, migrated to head; dropped afterwards."""
    if os.environ.get("STICKERGUARD_TEST_PG") == "skip":
        pytest.skip("STICKERGUARD_TEST_PG=skip")
    schema = f"sg_test_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as e:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {PG_URL} is unreachable ({e.orig}); start it, point "
            "STICKERGUARD_TEST_PG_URL at one, or set STICKERGUARD_TEST_PG=skip",
            pytrace=False,
        )
    db = open_db(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield db
    finally:
        db.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A migrated, empty Database: SQLite in a temp file, or the session's PG schema."""
    if request.param == "sqlite":
        database = open_db(f"sqlite:///{tmp_path / 'stickerguard.sqlite3'}")
        yield database
        database.close()
    else:
        database = request.getfixturevalue("pg_database")
        yield database
        with database.engine.begin() as conn:
            conn.execute(text("TRUNCATE bank_signals, bank_contents, banks RESTART IDENTITY CASCADE"))
