"""Store: SQLAlchemy models and the database handle (SQLite default, PostgreSQL too).

Public surface::

    open_db(url=None, *, upgrade=True) -> Database   # runs Alembic migrations to head
    default_db_url() -> str                          # $STICKERGUARD_DB or the user data dir
    Bank, BankContent, BankSignal, Base
"""

from .models import Bank, BankContent, BankSignal, Base
from .db import Database, default_db_url, open_db

__all__ = ["Bank", "BankContent", "BankSignal", "Base", "Database", "default_db_url", "open_db"]
