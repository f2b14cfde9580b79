"""Store: SQLAlchemy models and the database handle (SQLite default, PostgreSQL too).

Public surface::

    open_db(url=None, *, upgrade=True) -> Database   # runs Alembic migrations to head
    default_db_url() -> str                          # $STICKERGUARD_DB or the user data dir
    Bank, BankContent, BankSignal, Base
    ApiToken, ChangeLog                              # HTTP tokens; change log (0002)
"""

from .models import ApiToken, Bank, BankContent, BankSignal, Base, ChangeLog
from .db import Database, default_db_url, open_db

__all__ = ["ApiToken", "Bank", "ChangeLog", "BankContent", "BankSignal", "Base", "Database", "default_db_url", "open_db"]
