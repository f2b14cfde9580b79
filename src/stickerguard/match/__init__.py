"""Match: load banks into indexes, match a file's signals, and scan paths.

Public surface::

    Matcher.from_db(db, banks=None) -> Matcher
    Matcher.match(signals: MediaSignals) -> list[Match]
    Matcher.match_hash(signal_type, value) -> list[Match]
    scan(paths, matcher, ...) -> Iterator[ScanResult]
"""
# OWNER: index/match helper (Matcher, Match); scan.py by the lead.
