"""Database handle. OWNER: store/banks helper."""
# Contract:
#   default_db_url() -> str: os.environ["STICKERGUARD_DB"] if set, else
#       "sqlite:///<platformdirs.user_data_dir('stickerguard')>/stickerguard.sqlite3".
#   open_db(url: str | None = None, *, upgrade: bool = True) -> Database
#   class Database: .url, .engine, .session() -> context manager yielding a Session inside
#       ONE transaction (commit on success, rollback on exception).
