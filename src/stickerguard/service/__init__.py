"""Service core behind the HTTP API (no HTTP here): settings, the live index that follows
the change log, URL fetching with SSRF guards, and the hash/lookup/add operations.

Public surface::

    Settings, Settings.from_env(**overrides)
    LiveIndex(db, *, poll_interval_s).load() / .start() / .stop() / .poll() / .match() / .match_hash() / .status()
    fetch_url(url, settings) -> (bytes, name);  UrlRefused, UrlFetchError
    check_upload, hash_data, lookup_data, add_file, signals_json, te_hashes, HMA_NAMES, TE_NAMES
"""

from .settings import DEFAULT_UPLOAD_BYTES, Settings
from .index import LiveIndex
from .fetch import UrlFetchError, UrlRefused, check_address, fetch_url
from .api import HMA_NAMES, TE_NAMES, add_file, check_upload, hash_data, lookup_data, signals_json, te_hashes

__all__ = [
    "DEFAULT_UPLOAD_BYTES",
    "HMA_NAMES",
    "LiveIndex",
    "Settings",
    "TE_NAMES",
    "UrlFetchError",
    "UrlRefused",
    "add_file",
    "check_address",
    "check_upload",
    "fetch_url",
    "hash_data",
    "lookup_data",
    "signals_json",
    "te_hashes",
]
