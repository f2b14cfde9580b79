"""Match: load banks into indexes, match a file's signals, and scan paths.

Public surface::

    Matcher.from_rows(rows, *, min_quality=50, frame_match_ratio=0.8) -> Matcher
    Matcher.from_db(db, banks=None, **options) -> Matcher
    Matcher.match(signals: MediaSignals, *, banks=None) -> list[Match]
    Matcher.match_hash(signal_type, value, *, banks=None) -> list[Match]
    Matcher.match_hashes(signal_type, values, *, banks=None)   # bulk lookups, one search
    Matcher.add_rows(rows) / remove_signals(ids) / set_bank(bank_id, ...)  # incremental
    Matcher.save(dir) / Matcher.load(dir, resolver=None); Matcher.position  # persistence
    Matcher.stats() -> {bank: {threshold, contents, signals: {type: n}, skipped_low_quality}}
    BankSignalRow, Match, FramesMatched             # data shapes (match/types.py)
    scan(paths, matcher, ...) -> Iterator[ScanResult]  # sandboxed decoding, goes on past bad files
"""
from .matcher import DEFAULT_FRAME_MATCH_RATIO, DEFAULT_MIN_QUALITY, DIHEDRAL_NAMES, Matcher
from .types import BankSignalRow, FramesMatched, Match
from .scan import ScanResult, ScanSummary, scan, signals_to_dict

__all__ = [
    "DEFAULT_FRAME_MATCH_RATIO",
    "DEFAULT_MIN_QUALITY",
    "DIHEDRAL_NAMES",
    "BankSignalRow",
    "FramesMatched",
    "Match",
    "Matcher",
    "ScanResult",
    "ScanSummary",
    "scan",
    "signals_to_dict",
]
