"""store: default URL, Alembic migrations (== models, both databases), sessions."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from stickerguard.store import Bank, Base, default_db_url, open_db
from stickerguard.store.db import alembic_config


def test_default_db_url_from_env(monkeypatch):
    monkeypatch.setenv("STICKERGUARD_DB", "postgresql+psycopg://u@h/x")
    assert default_db_url() == "postgresql+psycopg://u@h/x"


def test_default_db_url_in_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("STICKERGUARD_DB", raising=False)
    monkeypatch.setattr("platformdirs.user_data_dir", lambda app: str(tmp_path / "data" / app))
    assert default_db_url() == f"sqlite:///{tmp_path}/data/stickerguard/stickerguard.sqlite3"
    assert (tmp_path / "data" / "stickerguard").is_dir()


def test_migrations_match_models(db):
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0003"
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_tables_and_indexes(db):
    insp = inspect(db.engine)
    assert {"alembic_version", "banks", "bank_contents", "bank_signals"} <= set(insp.get_table_names())
    assert sorted(i["name"] for i in insp.get_indexes("bank_signals")) == [
        "ix_bank_signals_bank_id",
        "ix_bank_signals_content_id",
        "ix_bank_signals_type_value",
    ]


def test_session_commits_and_rolls_back(db):
    with db.session() as s:
        s.add(Bank(name="kept", labels=["a"], threshold=31, enabled=True))
    with pytest.raises(RuntimeError, match="boom"):
        with db.session() as s:
            s.add(Bank(name="lost", labels=[], threshold=31, enabled=True))
            s.flush()
            raise RuntimeError("boom")
    with db.session() as s:
        assert s.scalars(select(Bank.name)).all() == ["kept"]
        assert s.scalars(select(Bank.labels)).one() == ["a"]


def test_reopen_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    with open_db(url) as db:
        with db.session() as s:
            s.add(Bank(name="b", labels=[], threshold=5, enabled=False))
    with open_db(url) as db:  # upgrade head again: no-op, data kept
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Bank)) == 1


def test_sqlite_pragmas(tmp_path):
    with open_db(f"sqlite:///{tmp_path / 'p.sqlite3'}") as db, db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_in_memory_sqlite_shares_one_database():
    with open_db("sqlite://") as db:
        with db.session() as s:
            s.add(Bank(name="m", labels=[], threshold=31, enabled=True))
        with db.session() as s:
            assert s.scalars(select(Bank.name)).all() == ["m"]


def test_upgrade_false_leaves_schema_alone(tmp_path):
    with open_db(f"sqlite:///{tmp_path / 'n.sqlite3'}", upgrade=False) as db:
        assert inspect(db.engine).get_table_names() == []


def test_downgrade_to_base_and_back(tmp_path):
    with open_db(f"sqlite:///{tmp_path / 'd.sqlite3'}") as db:
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        assert sorted(inspect(db.engine).get_table_names()) == [
            "alembic_version",
            "api_tokens",
            "bank_contents",
            "bank_signals",
            "banks",
            "change_log",
        ]


def test_compare_metadata_would_see_a_drift(db):
    """Guard for test_migrations_match_models: a model column missing from the DB shows up."""
    from sqlalchemy import Column, Integer, MetaData

    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["banks"].append_column(Column("extra", Integer))
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), drifted)
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "extra")]
