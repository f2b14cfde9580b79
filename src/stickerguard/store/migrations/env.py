"""Alembic environment for stickerguard (online mode only).

``stickerguard.store.db.upgrade_db`` passes an open connection in
``config.attributes["connection"]``; run by hand, the URL comes from
``-x url=...`` or ``sqlalchemy.url`` in alembic.ini.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from stickerguard.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the given connection, or on a fresh engine from the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("stickerguard migrations run online only (pass a database URL)")
run_migrations_online()
