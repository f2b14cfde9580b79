"""Jobs that join several stages: import media into a bank, tell media from hash lists.

Kept out of ``banks`` (which stores already-hashed items) so that the storage layer does
not depend on decoding, and out of ``cli`` so that the web API can reuse them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import StickerguardError
from .match.scan import ScanResult, scan
from .media import DEFAULT_LIMITS, Limits

# Magic bytes of every container we decode or unpack (see media.sniff); a file that starts
# with none of these is read as a text hash list.
_MEDIA_MAGIC = (
    b"RIFF",  # webp
    b"\x89PNG",
    b"\xff\xd8\xff",  # jpeg
    b"GIF8",
    b"BM",
    b"\x1f\x8b",  # gzip: .tgs
    b"\x1a\x45\xdf\xa3",  # EBML: webm/mkv
    b"PK\x03\x04",  # zip: .wastickers
)


def is_media_source(path: str | Path) -> bool:
    """True when ``path`` is a folder, or a file whose magic bytes are media or an archive.

    Text files (hash lists) return False. Raises FileNotFoundError for a missing path.
    """
    p = Path(path)
    if p.is_dir():
        return True
    with p.open("rb") as fh:
        head = fh.read(12)
    if len(head) >= 8 and head[4:8] == b"ftyp":  # ISO BMFF: mp4
        return True
    return any(head.startswith(m) for m in _MEDIA_MAGIC)


def hash_upload(
    data: bytes, *, name: str = "<upload>", limits: Limits = DEFAULT_LIMITS, variants: bool = False
):
    """Hash one untrusted upload (the HTTP API's and the review queue's entry point).

    Decoding runs in the process-wide sandboxed worker pool
    (:func:`stickerguard.isolate.get_pool`; thread-safe, so server threads may call this
    concurrently), unless ``STICKERGUARD_ISOLATE=0``.

    Returns :class:`stickerguard.signals.MediaSignals`; raises a typed
    StickerguardError naming ``name``: ``unsupported_media``, ``decode_error``,
    ``limit_exceeded``, ``decoder_crashed`` (the worker died on this file) or
    ``decode_timeout`` (it ran past its wall-clock or CPU limit).
    """
    from .match.scan import isolation_enabled

    if not isolation_enabled():
        from .signals import hash_bytes

        return hash_bytes(data, name=name, limits=limits, variants=variants)
    from .isolate import get_pool

    return get_pool().hash(data, name=name, limits=limits, variants=variants)


@dataclass
class MediaImport:
    """Outcome of :func:`import_media`: the bank import plus the files that failed alone."""

    added: int = 0
    signals: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # stickers the bank already held (same SHA-256): not added again
    failed: list[ScanResult] = field(default_factory=list)


def import_media(
    db,
    bank: str,
    paths: Iterable[str | Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    signal_keys: dict[str, str] | None = None,
    include_tray: bool = False,
    workers: int = 1,
) -> MediaImport:
    """Hash every sticker under ``paths`` and add it to ``bank`` in ONE transaction.

    Bank entries get the flattened canonical variants too (``variants=True``). Files
    that cannot be decoded are skipped and returned in ``failed`` (they never
    half-write); stickers the bank already holds are counted in ``duplicates``; tray icons are skipped unless ``include_tray``. Raises BankError for an
    unknown bank.
    """
    from .banks import add_media, get_bank

    get_bank(db, bank)  # fail before hashing anything
    items = []
    failed: list[ScanResult] = []
    for result in scan(paths, None, limits=limits, signal_keys=signal_keys, workers=workers, variants=True):
        if result.signals is None:
            failed.append(result)
        elif include_tray or not result.is_tray:
            items.append((result, result.signals))
    res = add_media(db, bank, items) if items else None
    return MediaImport(
        added=res.records if res else 0,
        signals=dict(res.by_type) if res else {},
        duplicates=res.duplicates if res else 0,
        failed=failed,
    )


__all__ = ["MediaImport", "StickerguardError", "hash_upload", "import_media", "is_media_source"]
