"""What the HTTP routes do, without HTTP: hash an upload, look it up, add it to a bank.

Routers parse and render; these functions hold the rules (size caps per format,
hashing through :func:`stickerguard.jobs.hash_upload`, bank-side variants).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import LimitExceeded
from ..jobs import hash_upload
from ..match import signals_to_dict
from ..media import Limits, sniff
from ..media.types import PackInfo, Sticker
from ..signals.types import MediaSignals
from .index import LiveIndex
from .settings import Settings

HMA_NAMES = {"pdq": "pdq", "video_md5": "md5", "video_sha256": "sha256", "md5": "md5", "sha256": "sha256",
             "sticker_pdq": "sticker_pdq"}
"""python-threatexchange signal names (and stickerguard's own) -> stickerguard names."""
TE_NAMES = {"pdq": "pdq", "md5": "video_md5", "sha256": "video_sha256", "sticker_pdq": "sticker_pdq"}
"""stickerguard signal names -> the names the HMA-compatible routes report."""


def check_upload(data: bytes, name: str, settings: Settings) -> str:
    """Sniff ``data`` and enforce the per-format cap; returns the format.

    Raises UnsupportedMedia/DecodeError (from ``media.sniff``) or LimitExceeded
    ``"webp upload is N bytes, over the limit of M bytes (upload_bytes.webp)"``.
    """
    fmt = sniff(data, name=name)
    cap = settings.upload_bytes.get(fmt)
    if cap is not None and len(data) > cap:
        raise LimitExceeded(f"{fmt} upload is {len(data)} bytes, over the limit of {cap} bytes "
                            f"(upload_bytes.{fmt})", path=name, field=f"upload_bytes.{fmt}")
    return fmt


_HASHERS: ThreadPoolExecutor | None = None
_HASHERS_LOCK = threading.Lock()


def _hashers() -> ThreadPoolExecutor:
    """Process-wide threads that call ``jobs.hash_upload``. They live as long as the
    process, which matters: sandbox workers die with the THREAD that started them
    (``PR_SET_PDEATHSIG``), and the web server's own pool threads exit when idle."""
    global _HASHERS
    with _HASHERS_LOCK:
        if _HASHERS is None:
            _HASHERS = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="sg-hash")
        return _HASHERS


def hash_data(data: bytes, name: str, settings: Settings, *, variants: bool = False) -> MediaSignals:
    """Check caps then hash through ``jobs.hash_upload`` (the sandboxed entry point).

    ``variants=True`` adds the flattened canonical variants (bank side). Raises the
    typed errors of :func:`check_upload` and of hashing (``decode_error`` ...).
    """
    check_upload(data, name, settings)
    limits = Limits(max_file_bytes=max(settings.upload_bytes.values(), default=len(data)))
    job = _hashers().submit(hash_upload, data, name=name, limits=limits, variants=variants or settings.hash_variants)
    return job.result()


def signals_json(sig: MediaSignals) -> dict[str, Any]:
    """JSON form of every signal: plain and canonical PDQ with quality, MD5, SHA-256, frames."""
    return signals_to_dict(sig, with_frames=True)


def lookup_data(index: LiveIndex, data: bytes, name: str, settings: Settings,
                banks: Sequence[str] | None = None) -> dict[str, Any]:
    """Hash a file and match it: ``{"signals": {...}, "matches": [Match.to_dict()]}``.

    Raises the hashing errors, BankError for a bank that is not loaded, RuntimeError
    when the index is not loaded yet.
    """
    sig = hash_data(data, name, settings)
    matches = index.match(sig, banks=banks)
    return {"signals": signals_json(sig), "matches": [m.to_dict() for m in matches]}


def add_file(db, bank: str, data: bytes, name: str, settings: Settings, *, note: str | None = None) -> dict[str, Any]:
    """Hash a file (with bank-side canonical variants) and add it to ``bank`` as one item.

    Returns ``{"content_id", "signals": {type: count}, "hashes": signals_json}``.
    Raises BankError for an unknown bank (checked before hashing) or hashing errors.
    """
    from ..banks import add_media, get_bank, update_content

    get_bank(db, bank)
    sig = hash_data(data, name, settings, variants=True)
    sticker = Sticker(path=name, name=name, data=data, pack=PackInfo(kind="file", identifier=name, source=name))
    ids: list[int] = []
    res = add_media(db, bank, [(sticker, sig)], ids_out=ids, dedupe=False)  # an explicit add: always a new item
    content_id = ids[0]
    if note is not None:
        update_content(db, bank, content_id, note=note)
    return {"content_id": content_id, "signals": res.by_type, "hashes": signals_json(sig)}


def te_hashes(sig: MediaSignals, content_type: str) -> dict[str, str]:
    """HMA ``/h/hash`` answer: ``{"pdq": hex}`` for photos, ``{"video_md5": hex}`` for videos."""
    if content_type == "video":
        return {"video_md5": sig.md5}
    return {"pdq": sig.pdq}
