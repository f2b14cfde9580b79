"""Matcher: bank signals loaded into indexes; a file's signals matched against them.

Rules (exact, perceptual, dihedral, canonical, animations) are explained in
``docs/matching.md``; the animation rule follows the spirit of Meta's vPDQ.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BankError
from ..index import ExactIndex, PDQIndex
from ..signals.base import SIGNAL_TYPES, signal_type as _lookup_signal_type
from ..signals.types import MediaSignals
from .types import FramesMatched, Match

try:  # the signals package owns the names; fall back until it defines them
    from ..signals.pdq import DIHEDRAL_NAMES
except ImportError:  # pragma: no cover - depends on the signals helper's progress
    # pdqhash.compute_dihedral order (Meta's PDQ reference ``dihedralFromBuffer``).
    DIHEDRAL_NAMES = (
        "identity", "rotate90", "rotate180", "rotate270",
        "flipx", "flipy", "flip_plus1", "flip_minus1",
    )

DEFAULT_MIN_QUALITY = 50
"""PDQ quality below this is not meaningful (Meta's PDQ guidance); such hashes are skipped."""
DEFAULT_FRAME_MATCH_RATIO = 0.8
"""Fraction of frames that must match, on both sides, for an animated bank item."""

# query-side kind -> bank signal types it is compared with (see docs/matching.md)
_ALLOWED = {"pdq": frozenset({"pdq"}), "sticker_pdq": frozenset({"sticker_pdq", "pdq"})}
# tie-break rank of the query-side signal: exact beats plain beats canonical
_RANK = {"md5": 0, "sha256": 0, "pdq": 1, "sticker_pdq": 2}
_EPS = 1e-9


@dataclass(slots=True)
class _Content:
    bank: str
    bank_id: int
    bank_labels: tuple[str, ...]
    threshold: int
    content_id: int
    name: str | None
    pack: str | None
    labels: tuple[str, ...]
    frame_count: int
    frames: set[int] = field(default_factory=set)  # indexed perceptual frame indexes


@dataclass
class _Hits:
    """Evidence gathered for one content during one query."""

    best: tuple | None = None  # (distance, rank, transform, frame, signal_id, query_signal)
    query_frames: set[int] = field(default_factory=set)
    bank_frames: set[int] = field(default_factory=set)
    exact: bool = False

    def offer(self, cand: tuple) -> None:
        if self.best is None or cand < self.best:
            self.best = cand


class _Where:
    """Lazily formatted "signal N (bank 'x')" prefix for load errors (hot loop)."""

    __slots__ = ("sid", "bank")

    def __init__(self, sid: int, bank: str) -> None:
        self.sid, self.bank = sid, bank

    def __format__(self, spec: str) -> str:
        return f"signal {self.sid} (bank {self.bank!r})"


def _labels(*groups: Iterable[str] | None) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for group in groups:
        for label in group or ():
            out.setdefault(label, None)
    return tuple(out)


class Matcher:
    """Bank signals held in memory: one :class:`PDQIndex` for all ``pdq`` and
    ``sticker_pdq`` signals, one :class:`ExactIndex` each for ``md5`` and ``sha256``.

    Build with :meth:`from_rows` (pure) or :meth:`from_db`. Thread-safe for concurrent
    ``match`` calls once built (read-only).

    Args (of the constructors):
        min_quality: PDQ quality (0..100) below which query hashes are not searched and
            bank hashes are not indexed (bank quality None = unknown = indexed).
        frame_match_ratio: fraction (0..1] of frames that must match on both sides
            for bank items with more than one frame.
    """

    def __init__(self, *, min_quality: int = DEFAULT_MIN_QUALITY,
                 frame_match_ratio: float = DEFAULT_FRAME_MATCH_RATIO) -> None:
        if not 0 <= min_quality <= 100:
            raise ValueError(f"min_quality must be 0..100, saw {min_quality}")
        if not 0 < frame_match_ratio <= 1:
            raise ValueError(f"frame_match_ratio must be in (0, 1], saw {frame_match_ratio}")
        self.min_quality = min_quality
        self.frame_match_ratio = frame_match_ratio
        self._pdq = PDQIndex()
        self._exact = {"md5": ExactIndex(), "sha256": ExactIndex()}
        self._signals: dict[int, tuple[tuple[int, int], str, str, int]] = {}
        self._contents: dict[tuple[int, int], _Content] = {}
        self._thresholds: dict[str, int] = {}
        self._banks: dict[int, _Content] = {}  # bank id -> bank-level fields only
        self._stats: dict[str, dict[str, Any]] = {}

    # ----------------------------------------------------------------- building

    @classmethod
    def from_rows(cls, rows: Iterable[Any], **options: Any) -> Matcher:
        """Build from bank signal rows (:class:`~stickerguard.match.BankSignalRow` fields).

        Rows with ``bank_enabled`` False are skipped; PDQ/sticker PDQ rows with a known
        quality below ``min_quality`` are counted as ``skipped_low_quality`` and not indexed.

        Raises:
            BankError: a repeated signal id, an unknown signal type, a malformed value,
                a threshold outside 0..256, or a bank whose rows disagree on its name or
                threshold; the message names the signal id and the value seen.
        """
        self = cls(**options)
        pdq_ids: list[int] = []
        pdq_values: list[str] = []
        exact: dict[str, tuple[list[int], list[str]]] = {"md5": ([], []), "sha256": ([], [])}
        for row in rows:
            if not getattr(row, "bank_enabled", True):
                continue
            sid = int(row.signal_id)
            where = _Where(sid, row.bank_name)
            if sid in self._signals:
                raise BankError(f"{where}: signal id given twice")
            kind = SIGNAL_TYPES.get(row.signal_type)
            if kind is None:
                raise BankError(f"{where}: unknown signal type {row.signal_type!r}; "
                                f"known: {', '.join(SIGNAL_TYPES)}")
            try:
                value = kind.validate(row.value)
            except ValueError as exc:
                raise BankError(f"{where}: {exc}") from None
            content = self._content(row, where)
            key = (content.bank_id, content.content_id)
            stats = self._stats[content.bank]
            if kind.perceptual:
                if row.quality is not None and row.quality < self.min_quality:
                    stats["skipped_low_quality"] += 1
                    continue
                pdq_ids.append(sid)
                pdq_values.append(value)
                content.frames.add(int(row.frame_index))
            else:
                exact[kind.name][0].append(sid)
                exact[kind.name][1].append(value)
            self._signals[sid] = (key, kind.name, value, int(row.frame_index))
            stats["signals"][kind.name] = stats["signals"].get(kind.name, 0) + 1
        self._pdq.add(pdq_ids, pdq_values)
        for name, (ids, values) in exact.items():
            self._exact[name].add(ids, values)
        return self

    def _content(self, row: Any, where: object) -> _Content:
        key = (int(row.bank_id), int(row.content_id))
        content = self._contents.get(key)
        if content is not None:
            return content
        bank = self._bank(row, where)
        content = _Content(
            bank=bank.bank, bank_id=key[0], bank_labels=bank.bank_labels,
            threshold=bank.threshold, content_id=key[1], name=row.content_name,
            pack=row.content_pack,
            labels=_labels(bank.bank_labels, row.content_labels) if row.content_labels
            else bank.bank_labels,
            frame_count=int(row.content_frame_count or 1),
        )
        self._contents[key] = content
        self._stats[bank.bank]["contents"] += 1
        return content

    def _bank(self, row: Any, where: object) -> _Content:
        """Bank-level fields of ``row`` (checked once per bank, compared on each new content)."""
        threshold, bank_id = row.bank_threshold, int(row.bank_id)
        bank = self._banks.get(bank_id)
        if bank is None:
            if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 256:
                raise BankError(f"{where}: bank threshold must be 0..256 bits, saw {threshold!r}")
            if row.bank_name in self._stats:
                raise BankError(f"{where}: bank name {row.bank_name!r} is used by two bank ids")
            bank = _Content(bank=row.bank_name, bank_id=bank_id, bank_labels=_labels(row.bank_labels),
                            threshold=threshold, content_id=-1, name=None, pack=None, labels=(),
                            frame_count=0)
            self._banks[bank_id] = bank
            self._thresholds[bank.bank] = threshold
            self._stats[bank.bank] = {"threshold": threshold, "contents": 0, "signals": {},
                                      "skipped_low_quality": 0}
        elif bank.bank != row.bank_name:
            raise BankError(f"{where}: bank id {bank_id} is also named {bank.bank!r}")
        elif bank.threshold != threshold:
            raise BankError(f"{where}: bank threshold {threshold} differs from {bank.threshold} "
                            "seen in an earlier row of the same bank")
        return bank

    @classmethod
    def from_db(cls, db: Any, banks: Sequence[str] | None = None, **options: Any) -> Matcher:
        """Load the enabled banks (or only ``banks``, by name) from the database.

        ``db`` is whatever ``stickerguard.banks.iter_bank_signals`` accepts (a session
        or the store handle); errors for unknown bank names come from there.
        """
        banks_module = importlib.import_module("stickerguard.banks")
        return cls.from_rows(banks_module.iter_bank_signals(db, banks), **options)

    # ----------------------------------------------------------------- querying

    @property
    def banks(self) -> list[str]:
        """Names of the loaded banks, sorted."""
        return sorted(self._stats)

    def _scope(self, banks: Sequence[str] | None) -> set[str]:
        if banks is None:
            return set(self._stats)
        if isinstance(banks, str):
            banks = [banks]
        unknown = [b for b in banks if b not in self._stats]
        if unknown:
            loaded = ", ".join(self.banks) or "none"
            raise BankError(f"bank {unknown[0]!r} is not loaded (unknown, disabled or without "
                            f"signals); loaded: {loaded}", field="banks")
        return set(banks)

    def _radius(self, scope: set[str]) -> int | None:
        return max((self._thresholds[b] for b in scope), default=None)

    def _perceptual(self, queries: dict[str, list[tuple[int, str, int]]], scope: set[str],
                    hits: dict[tuple[int, int], _Hits]) -> None:
        """Range-search every query hash once; ``queries`` maps hash -> (frame, kind, transform)."""
        radius = self._radius(scope)
        if radius is None or not queries:
            return
        hashes = list(queries)
        for qhash, found in zip(hashes, self._pdq.range_search(hashes, radius)):
            for sid, dist in found:
                key, bank_type, _value, bank_frame = self._signals[sid]
                content = self._contents[key]
                if content.bank not in scope or dist > content.threshold:
                    continue
                for frame, kind, transform in queries[qhash]:
                    if bank_type not in _ALLOWED[kind]:
                        continue
                    h = hits.setdefault(key, _Hits())
                    h.query_frames.add(frame)
                    h.bank_frames.add(bank_frame)
                    h.offer((dist, _RANK[kind], transform, frame, sid, kind))

    def match(self, signals: MediaSignals, *, banks: Sequence[str] | None = None) -> list[Match]:
        """Match one file's signals against the loaded banks.

        Args:
            signals: the file's :class:`MediaSignals` (``md5``/``sha256`` and per-frame PDQ).
            banks: restrict to these bank names (default: every loaded bank).

        Returns:
            one :class:`Match` per matched (bank, content), sorted by distance in bits,
            then bank name, then content id.

        Raises:
            BankError: a name in ``banks`` is not loaded.
        """
        scope = self._scope(banks)
        hits: dict[tuple[int, int], _Hits] = {}
        for name, value in (("md5", signals.md5), ("sha256", signals.sha256)):
            for sid in self._exact[name].lookup((value or "").lower()):
                key = self._signals[sid][0]
                if self._contents[key].bank in scope:
                    h = hits.setdefault(key, _Hits())
                    h.exact = True
                    h.offer((0, 0, 0, -1, sid, name))
        queries: dict[str, list[tuple[int, str, int]]] = {}
        usable = 0
        for frame in signals.frames:
            sides = ((frame.pdq, frame.quality, frame.pdq_dihedral, "pdq"),
                     (frame.canonical_pdq, frame.canonical_quality, frame.canonical_dihedral,
                      "sticker_pdq"))
            used = False
            for base, quality, variants, kind in sides:
                if not base or quality < self.min_quality:
                    continue
                used = True
                for transform, qhash in enumerate(variants or (base,)):
                    queries.setdefault(qhash.lower(), []).append((frame.index, kind, transform))
            usable += used
        self._perceptual(queries, scope, hits)
        out = []
        for key, h in hits.items():
            content = self._contents[key]
            counts = FramesMatched(len(h.query_frames), usable, len(h.bank_frames), len(content.frames))
            if not h.exact and content.frame_count > 1 and not self._enough_frames(counts):
                continue
            out.append(self._make(content, h.best, counts, with_frame=True))
        return _sorted(out)

    def _enough_frames(self, c: FramesMatched) -> bool:
        """The animation rule: both frame ratios reach ``frame_match_ratio``."""
        r = self.frame_match_ratio
        return (c.query_total > 0 and c.bank_total > 0
                and c.query_matched / c.query_total >= r - _EPS
                and c.bank_matched / c.bank_total >= r - _EPS)

    def _make(self, content: _Content, best: tuple, counts: FramesMatched, *,
              with_frame: bool) -> Match:
        dist, _rank, transform, frame, sid, query_signal = best
        _key, bank_type, value, _bank_frame = self._signals[sid]
        exact = not SIGNAL_TYPES[bank_type].perceptual
        return Match(
            bank=content.bank, bank_labels=content.bank_labels, content_id=content.content_id,
            content_name=content.name, content_pack=content.pack, labels=content.labels,
            signal_type=bank_type, query_signal=query_signal, distance=dist,
            threshold=0 if exact else content.threshold, value=value,
            query_frame=frame if (with_frame and not exact) else None,
            transform=DIHEDRAL_NAMES[transform], frames_matched=counts,
        )

    def match_hash(self, signal_type: str, value: str, *,
                   banks: Sequence[str] | None = None) -> list[Match]:
        """Look up one hash: every bank item holding a signal within its bank's threshold.

        A ``pdq`` value is compared with bank ``pdq`` signals; a ``sticker_pdq`` value
        with bank ``sticker_pdq`` and ``pdq`` signals (as in :meth:`match`); ``md5`` and
        ``sha256`` exactly. No dihedral variants, no quality check and no animation rule:
        this answers "which items contain this hash", not "is this file a known item".

        Raises:
            ValueError: unknown signal type or malformed value (the message names both).
            BankError: a name in ``banks`` is not loaded.
        """
        try:
            kind = _lookup_signal_type(signal_type)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        value = kind.validate(value)
        scope = self._scope(banks)
        hits: dict[tuple[int, int], _Hits] = {}
        if kind.perceptual:
            self._perceptual({value: [(0, kind.name, 0)]}, scope, hits)
        else:
            for sid in self._exact[kind.name].lookup(value):
                key = self._signals[sid][0]
                if self._contents[key].bank in scope:
                    hits.setdefault(key, _Hits()).offer((0, 0, 0, -1, sid, kind.name))
        out = []
        for key, h in hits.items():
            content = self._contents[key]
            counts = FramesMatched(1, 1, len(h.bank_frames), len(content.frames))
            out.append(self._make(content, h.best, counts, with_frame=False))
        return _sorted(out)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per bank name: ``threshold`` (bits), ``contents`` (items with any signal row),
        ``signals`` (indexed count per signal type) and ``skipped_low_quality``."""
        return {
            bank: {**s, "signals": dict(sorted(s["signals"].items()))}
            for bank, s in sorted(self._stats.items())
        }

    def __len__(self) -> int:
        """Number of indexed bank signals (all types)."""
        return len(self._signals)


def _sorted(matches: list[Match]) -> list[Match]:
    return sorted(matches, key=lambda m: (m.distance, m.bank, m.content_id))
