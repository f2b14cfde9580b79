"""Banks: named hash lists in the store, and the hash-list file formats.

Public surface::

    create_bank(db, name, *, labels=(), threshold=31) -> BankInfo
    get_bank(db, name) -> BankInfo;  list_banks(db) -> list[BankInfo]
    update_bank(db, name, *, threshold=None, labels=None, enabled=None) -> BankInfo
    delete_bank(db, name) -> None
    import_hash_list(db, bank, path, *, format="auto") -> ImportResult   # all or nothing
    add_media(db, bank, [(Sticker, MediaSignals), ...]) -> ImportResult  # already hashed
    export_hash_list(db, bank, fh, *, format="lines", signal_types=None) -> int
    iter_bank_signals(db, bank_names=None, *, include_disabled=False, bank_id=None,
                      signal_ids=None, content_ids=None) -> Iterator[BankSignalRow]
    list_contents(db, bank, *, offset, limit) -> (total, [ContentInfo]); get_content
    update_content(db, bank, id, *, note=, disabled_until=); delete_content -> n signals
    add_signals(db, bank, [{type: hex}], *, name=, note=) -> (ImportResult, [content ids])
    log_change / read_changes / last_change_id / Change / CHANNEL   # change log (servers)
    prune_changes(db, older_than=timedelta) / first_change_id       # change-log upkeep
    FORMATS: {"lines", "te-csv", "csv"} -> HashListFormat;  detect_format(path)
    HashRecord, HashListFormat, BankInfo, ImportResult, BankSignalRow

Errors: BankError (unknown/duplicate bank, bad name or threshold) and HashListError
(bad line; nothing imported), both from ``stickerguard.errors``.
"""

from .formats import (
    FORMATS,
    HashListFormat,
    HashRecord,
    HeaderCsvFormat,
    LinesFormat,
    ThreatExchangeCsvFormat,
    detect_format,
    get_format,
)
from .changes import CHANNEL, Change, first_change_id, last_change_id, log_change, prune_changes, read_changes
from .content import ContentInfo, add_signals, delete_content, get_content, list_contents, update_content
from .io import ImportResult, add_media, bank_records, export_hash_list, import_hash_list
from .ops import (
    BankInfo,
    BankSignalRow,
    create_bank,
    delete_bank,
    get_bank,
    iter_bank_signals,
    list_banks,
    update_bank,
)

__all__ = [
    "CHANNEL",
    "Change",
    "ContentInfo",
    "add_signals",
    "delete_content",
    "get_content",
    "first_change_id",
    "last_change_id",
    "list_contents",
    "log_change",
    "prune_changes",
    "read_changes",
    "update_content",
    "FORMATS",
    "BankInfo",
    "BankSignalRow",
    "HashListFormat",
    "HashRecord",
    "HeaderCsvFormat",
    "ImportResult",
    "LinesFormat",
    "ThreatExchangeCsvFormat",
    "add_media",
    "bank_records",
    "create_bank",
    "delete_bank",
    "detect_format",
    "export_hash_list",
    "get_bank",
    "get_format",
    "import_hash_list",
    "iter_bank_signals",
    "list_banks",
    "update_bank",
]
