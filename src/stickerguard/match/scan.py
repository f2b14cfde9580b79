"""Scan paths: walk packs, hash every sticker, match it, and keep going past bad files.

``scan`` is the main job of the CLI and, later, of bulk jobs: it yields one
:class:`ScanResult` per sticker (or per unreadable source) in a deterministic order.
A file that fails to decode yields a result with ``error`` set; the scan goes on.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DecodeError, StickerguardError
from ..media import DEFAULT_LIMITS, Limits, PackInfo, SourceError, Sticker, iter_stickers
from ..signals import MediaSignals, hash_bytes

if TYPE_CHECKING:  # pragma: no cover
    from ..isolate import DecoderPool
    from .matcher import Match, Matcher


@dataclass
class ScanResult:
    """What one sticker (or one unreadable source) gave.

    Attributes:
        path: display path (archive members as ``archive!member``).
        name: file name inside its pack.
        pack: the pack it came from (None for an unreadable source).
        emojis: emojis from the pack manifest.
        is_tray: True for a pack's tray icon / cover.
        signals: every hash of the file, or None when it could not be hashed.
        matches: bank matches, best first (empty when none, or when no matcher).
        error: the typed error when the file or source could not be read.
        seconds: wall-clock time spent decoding + hashing this file (0 for sources
            that were never hashed).
    """

    path: str
    name: str
    pack: PackInfo | None = None
    emojis: tuple[str, ...] = ()
    is_tray: bool = False
    signals: MediaSignals | None = None
    matches: list[Match] = field(default_factory=list)
    error: StickerguardError | None = None
    seconds: float = 0.0

    def to_dict(self, *, with_frames: bool = False) -> dict[str, Any]:
        """JSON-ready dict: path, pack, sticker, emojis, signals summary, matches, error."""
        out: dict[str, Any] = {
            "path": self.path,
            "sticker": self.name,
            "pack": None
            if self.pack is None
            else {
                "kind": self.pack.kind,
                "identifier": self.pack.identifier,
                "name": self.pack.name,
                "publisher": self.pack.publisher,
            },
            "emojis": list(self.emojis),
        }
        if self.is_tray:
            out["tray"] = True
        if self.signals is not None:
            out["signals"] = signals_to_dict(self.signals, with_frames=with_frames)
        out["matches"] = [m.to_dict() for m in self.matches]
        if self.error is not None:
            out["error"] = self.error.to_dict()
        return out


def signals_to_dict(sig: MediaSignals, *, with_frames: bool = True) -> dict[str, Any]:
    """JSON-ready form of :class:`MediaSignals` (dihedral variants omitted)."""
    out: dict[str, Any] = {
        "format": sig.format,
        "width": sig.width,
        "height": sig.height,
        "animated": sig.animated,
        "frame_count": sig.frame_count,
        "duration_ms": sig.duration_ms,
        "md5": sig.md5,
        "sha256": sig.sha256,
        "pdq": sig.pdq,
        "quality": sig.quality,
        "sticker_pdq": sig.frames[0].canonical_pdq,
        "sticker_pdq_quality": sig.frames[0].canonical_quality,
    }
    if with_frames:
        out["frames"] = [
            {
                "index": f.index,
                "timestamp_ms": f.timestamp_ms,
                "pdq": f.pdq,
                "quality": f.quality,
                "sticker_pdq": f.canonical_pdq,
                "sticker_pdq_quality": f.canonical_quality,
            }
            for f in sig.frames
        ]
    return out


@dataclass
class ScanSummary:
    """Counts for a finished scan.

    Attributes:
        stickers: files and sources seen (including unreadable ones).
        hashed: stickers hashed successfully.
        matched: stickers with at least one match.
        errors: stickers or sources that failed, by error code (``unsupported_media``
            excluded: files that are not media at all, e.g. a LICENSE in a pack folder,
            are counted in ``skipped``).
        skipped: files whose magic bytes are no media format.
        seconds: wall-clock time of the scan.
    """

    stickers: int = 0
    hashed: int = 0
    matched: int = 0
    errors: Counter = field(default_factory=Counter)
    skipped: int = 0
    seconds: float = 0.0

    @property
    def error_count(self) -> int:
        """Total failed stickers/sources."""
        return sum(self.errors.values())

    def add(self, result: ScanResult) -> None:
        """Count one result."""
        self.stickers += 1
        if result.signals is not None:
            self.hashed += 1
        if result.matches:
            self.matched += 1
        if result.error is not None:
            if result.error.code == "unsupported_media":
                self.skipped += 1
            else:
                self.errors[result.error.code] += 1

    def exit_code(self, *, strict: bool = False) -> int:
        """grep-like exit code: 2 if ``strict`` and any file failed; else 1 if anything
        matched; else 2 if nothing could be hashed but something failed or was skipped;
        else 0."""
        if strict and self.error_count:
            return 2
        if self.matched:
            return 1
        if self.hashed == 0 and (self.error_count or self.skipped):
            return 2
        return 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "stickers": self.stickers,
            "hashed": self.hashed,
            "matched": self.matched,
            "errors": dict(self.errors),
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "stickers_per_second": round(self.hashed / self.seconds, 1) if self.seconds else None,
        }


def _as_error(exc: BaseException, path: str) -> StickerguardError:
    if isinstance(exc, StickerguardError):
        if exc.path is None:
            exc.path = path
        return exc
    # Any other exception from a decoder is a defect of the input as far as the scan is
    # concerned; keep its type in the message so it can be reported upstream.
    return DecodeError(f"could not decode: {type(exc).__name__}: {exc}", path=path)


def _hash_one(
    data: bytes, name: str, limits: Limits, variants: bool = False
) -> tuple[MediaSignals | None, StickerguardError | None]:
    try:
        return hash_bytes(data, name=name, limits=limits, variants=variants), None
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the scan
        return None, _as_error(exc, name)


def isolation_enabled() -> bool:
    """True unless ``STICKERGUARD_ISOLATE=0`` (debugging escape hatch; see docs/security.md)."""
    return os.environ.get("STICKERGUARD_ISOLATE", "1") != "0"


def scan(
    paths: Iterable[str | Path],
    matcher: Matcher | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    signal_keys: dict[str, str] | None = None,
    banks: list[str] | None = None,
    workers: int = 1,
    summary: ScanSummary | None = None,
    on_item: Callable[[ScanResult], None] | None = None,
    variants: bool = False,
    isolate: bool | None = None,
    pool: DecoderPool | None = None,
) -> Iterator[ScanResult]:
    """Hash and match every sticker under ``paths``.

    Args:
        paths: files, folders, archives (.wastickers/zip) and packs (WhatsApp, Telegram,
            Signal), read by :func:`stickerguard.media.iter_stickers`.
        matcher: a loaded :class:`~stickerguard.match.Matcher`; None hashes only.
        limits: decoding limits for untrusted media.
        signal_keys: Signal pack keys (pack folder or id -> 64 hex chars).
        banks: restrict matching to these bank names (None = every enabled bank).
        workers: files decoded at once (0 = one per CPU); results keep the walk order.
        summary: a :class:`ScanSummary` to fill in as results are yielded.
        on_item: called with each result (e.g. to advance a progress bar).
        variants: also compute the flattened canonical variants (needed only when the
            results are added to a bank; queries do not use them).
        isolate: decode in sandboxed worker processes (:mod:`stickerguard.isolate`);
            None = yes unless ``STICKERGUARD_ISOLATE=0``. False hashes in this process,
            one file at a time (benchmarks, debugging).
        pool: the :class:`~stickerguard.isolate.DecoderPool` to use (default: the
            process-wide warm pool, grown to ``workers``).

    Yields:
        One :class:`ScanResult` per sticker or unreadable source, in walk order. A file
        that crashes or hangs its decoder yields ``decoder_crashed`` / ``decode_timeout``.
        Never raises for a bad input file; raises only for programming errors.
    """
    start = time.perf_counter()
    if workers <= 0:
        workers = os.cpu_count() or 1
    if isolate is None:
        isolate = pool is not None or isolation_enabled()
    items = iter_stickers(paths, limits=limits, signal_keys=signal_keys)

    def _in_process() -> Iterator[ScanResult]:
        for item in items:
            if isinstance(item, SourceError):
                yield _source_result(item)
            else:
                t0 = time.perf_counter()
                sig, err = _hash_one(item.data, item.path, limits, variants)
                yield _sticker_result(item, sig, err, matcher, banks, time.perf_counter() - t0)

    def _isolated() -> Iterator[ScanResult]:
        from ..isolate import get_pool

        decoder = pool or get_pool(workers)
        stickers = decoder.hash_ordered(  # every worker of the pool, as its threads did before
            items, lambda it: (it.data, it.path) if isinstance(it, Sticker) else None,
            limits=limits, variants=variants,
        )
        for item, res in stickers:
            if res is None:
                yield _source_result(item)
            else:
                sig, err, seconds = res
                yield _sticker_result(item, sig, err, matcher, banks, seconds)

    for result in (_isolated() if isolate else _in_process()):
        if summary is not None:
            summary.add(result)
            summary.seconds = time.perf_counter() - start
        if on_item is not None:
            on_item(result)
        yield result


def _source_result(item: SourceError) -> ScanResult:
    return ScanResult(path=item.path, name=Path(item.path).name, error=_as_error(item.error, item.path))


def _sticker_result(
    item: Sticker,
    sig: MediaSignals | None,
    err: StickerguardError | None,
    matcher: Matcher | None,
    banks: list[str] | None,
    seconds: float = 0.0,
) -> ScanResult:
    matches: list[Match] = []
    if sig is not None and matcher is not None:
        matches = matcher.match(sig, banks=banks)
    return ScanResult(
        path=item.path,
        name=item.name,
        pack=item.pack,
        emojis=item.emojis,
        is_tray=item.is_tray,
        signals=sig,
        matches=matches,
        error=err,
        seconds=seconds,
    )
