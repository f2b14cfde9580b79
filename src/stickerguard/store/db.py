"""Database handle: one SQLAlchemy engine, migrated to the latest Alembic revision.

SQLite is the default (a file in the user data dir); PostgreSQL works through
``postgresql+psycopg://`` URLs. The schema is only ever created by the Alembic
migrations in ``store/migrations`` (shipped inside the package).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def default_db_url() -> str:
    """The database URL to use when none is given.

    Returns ``$STICKERGUARD_DB`` if set, else
    ``sqlite:///<platformdirs.user_data_dir("stickerguard")>/stickerguard.sqlite3``
    (the directory is created).
    """
    env = os.environ.get("STICKERGUARD_DB")
    if env:
        return env
    data_dir = Path(platformdirs.user_data_dir("stickerguard"))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'stickerguard.sqlite3'}"


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")  # answers "memory" for in-memory DBs: harmless
    cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster bulk imports
    cur.close()


def alembic_config(connection: Any = None) -> Config:
    """Alembic ``Config`` for the packaged migrations.

    ``script_location`` points inside the installed package; when ``connection`` (a
    SQLAlchemy ``Connection``) is given, ``env.py`` runs on it (so in-memory SQLite
    and a PostgreSQL ``search_path`` schema work) instead of opening its own.
    """
    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade_db(engine: Engine, revision: str = "head") -> None:
    """Run Alembic ``upgrade <revision>`` on ``engine`` in one transaction."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


class Database:
    """An open stickerguard database.

    Attributes:
        url: the SQLAlchemy URL it was opened with (password hidden in ``repr``).
        engine: the SQLAlchemy ``Engine``.
    """

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A ``Session`` inside ONE transaction: commit on success, rollback on error."""
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        """Dispose of the engine's connections. The object is unusable afterwards."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_db(url: str | None = None, *, upgrade: bool = True, **engine_kwargs: Any) -> Database:
    """Open (and by default migrate to the latest revision) a stickerguard database.

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///banks.sqlite3``, ``sqlite://`` (memory) or
            ``postgresql+psycopg://user@host/db``; default :func:`default_db_url`.
        upgrade: run Alembic ``upgrade head`` first (False: use the schema as it is).
        engine_kwargs: passed to ``sqlalchemy.create_engine`` (e.g. ``connect_args``
            with ``{"options": "-csearch_path=myschema"}`` for a PostgreSQL schema).

    SQLite connections get ``PRAGMA foreign_keys=ON`` and WAL journaling. Raises
    SQLAlchemy's ``OperationalError`` if the database cannot be reached.
    """
    url = url or default_db_url()
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database in (None, "", ":memory:"):
            # one shared connection, or every session would see its own empty DB
            engine_kwargs.setdefault("poolclass", StaticPool)
            engine_kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = create_engine(url, **engine_kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
    else:
        engine = create_engine(url, **engine_kwargs)
    if upgrade:
        upgrade_db(engine)
    return Database(url, engine)
