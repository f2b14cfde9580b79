"""Matcher: bank signals loaded into indexes; a file's signals matched against them.

Rules (exact, perceptual, dihedral, canonical, animations) are explained in
``docs/matching.md``; the animation rule follows the spirit of Meta's vPDQ. Holding,
updating and persisting the bank signals is ``stickerguard.index.BankIndex``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import BankError
from ..index import pdq_hex_to_array
from ..index.bankrows import REGION_CODES, REGION_SHIFT
from ..index.banked import DEFAULT_FRAME_MATCH_RATIO, DEFAULT_MIN_QUALITY, FRAME_BITS, KINDS, BankIndex
from ..index.contents import CONTENT_BITS, MAX_CONTENT_ID
from ..signals.base import SIGNAL_TYPES, signal_type as _lookup_signal_type
from ..signals.pdq import DIHEDRAL_NAMES
from ..signals.types import MediaSignals
from .types import FramesMatched, Match

__all__ = ["DEFAULT_FRAME_MATCH_RATIO", "DEFAULT_MIN_QUALITY", "DIHEDRAL_NAMES", "OCCLUDED_THRESHOLD",
           "TRANSFORM_NAMES", "Matcher"]

#: Match distance (bits) for an occluded sticker PDQ (one canvas region erased on both
#: sides): at most this, and at most the bank's threshold. Stricter than 31 because an
#: erased form is a smaller part of the drawing (docs/matching.md, docs/bench/detect.md).
OCCLUDED_THRESHOLD = 16
#: ``Match.transform`` names: the 8 dihedral variants, then ``erased_<region>`` per region.
TRANSFORM_NAMES: tuple[str, ...] = tuple(DIHEDRAL_NAMES) + tuple(f"erased_{r}" for r in list(REGION_CODES)[1:])
_ERASED = len(DIHEDRAL_NAMES) - 1  # transform index of region code c is _ERASED + c
#: region code each transform index must meet on the bank side (0 for the dihedral ones)
_TRANSFORM_REGION = (0,) * len(DIHEDRAL_NAMES) + tuple(range(1, len(REGION_CODES)))

# query-side kind -> bank signal types it is compared with (see docs/matching.md)
_ALLOWED = {"pdq": frozenset({"pdq"}), "sticker_pdq": frozenset({"sticker_pdq", "pdq"})}
# tie-break rank of the query-side signal: exact beats plain beats canonical
_RANK = {"md5": 0, "sha256": 0, "pdq": 1, "sticker_pdq": 2}
_FRAME_MASK = (1 << FRAME_BITS) - 1
_EPS = 1e-9


@dataclass
class _Hits:
    """Evidence gathered for one content row during one query."""

    # (distance, rank, transform, frame, signal_id, query_signal, bank_type, value)
    best: tuple | None = None
    query_frames: set[int] = field(default_factory=set)
    bank_frames: set[int] = field(default_factory=set)
    exact: bool = False

    def offer(self, cand: tuple) -> None:
        if self.best is None or cand[:5] < self.best[:5]:
            self.best = cand


class Matcher(BankIndex):
    """Bank signals in compact indexes (:class:`~stickerguard.index.BankIndex`: build,
    ``add_rows``, ``remove_signals``, ``set_bank``, ``save``/``load``, ``position``)
    plus the matching rules: :meth:`match` for a file, :meth:`match_hash` for one hash.

    Constructor options: ``min_quality`` (0..100, default 50), ``frame_match_ratio``
    ((0, 1], default 0.8; the animation rule), ``resolver`` (lazy content metadata), ``crossover``.
    """

    def _scope(self, banks: Sequence[str] | None) -> set[int]:
        """Bank ids in scope (enabled, loaded), from names; raises BankError for others."""
        loaded = {b.name: bid for bid, b in self._banks.items() if b.enabled and b.contents}
        if banks is None:
            return set(loaded.values())
        if isinstance(banks, str):
            banks = [banks]
        unknown = [b for b in banks if b not in loaded]
        if unknown:
            names = ", ".join(sorted(loaded)) or "none"
            raise BankError(f"bank {unknown[0]!r} is not loaded (unknown, disabled or without "
                            f"signals); loaded: {names}", field="banks")
        return {loaded[b] for b in banks}

    def _perceptual(self, queries: dict[str, list[tuple[int, str, int]]], scope: set[int],
                    hits: dict[int, _Hits] | list[dict[int, _Hits]]) -> None:
        """Search every query hash once; ``queries`` maps hash -> (frame, kind, transform).
        ``hits`` is one dict for all, or a list with one dict per query hash (in order).

        Region rule: a query hash with transform ``erased_<r>`` meets only bank hashes
        of region r, within ``OCCLUDED_THRESHOLD``; every other query hash only bank
        hashes of the whole drawing (region 0)."""
        if not scope or not queries:
            return
        radius = max(self._banks[b].threshold for b in scope)
        hashes = list(queries)
        found = self._pdq.search(pdq_hex_to_array(hashes), radius)
        keys = self._contents.keys
        for qi, sid, dist, payload, code in zip(found.query.tolist(), found.ids.tolist(),
                                                found.dist.tolist(), found.payload.tolist(),
                                                found.codes):
            row = payload >> 24
            bank_id = int(keys[row]) >> CONTENT_BITS
            if bank_id not in scope or dist > self._banks[bank_id].threshold:
                continue
            bank_type, bank_frame = KINDS[payload & 1], (payload >> 1) & _FRAME_MASK
            region = (payload >> REGION_SHIFT) & 7
            if region and dist > OCCLUDED_THRESHOLD:
                continue
            value = None
            for frame, kind, transform in queries[hashes[qi]]:
                if bank_type not in _ALLOWED[kind] or region != _TRANSFORM_REGION[transform]:
                    continue
                value = value or code.tobytes().hex()
                h = (hits[qi] if isinstance(hits, list) else hits).setdefault(row, _Hits())
                h.query_frames.add(frame)
                h.bank_frames.add(bank_frame)
                h.offer((dist, _RANK[kind], transform, frame, sid, kind, bank_type, value))

    def _exact_hits(self, kind: str, value: str, scope: set[int], hits: dict[int, _Hits]) -> None:
        for sid in self._exact[kind].lookup(value):
            row = self._exact_rows[sid][0]
            if int(self._contents.keys[row]) >> CONTENT_BITS in scope:
                h = hits.setdefault(row, _Hits())
                h.exact = True
                h.offer((0, 0, 0, -1, sid, kind, kind, value))

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
            if used:
                for region, qhash, quality, _share in frame.canonical_occluded:
                    if quality >= self.min_quality:
                        queries.setdefault(qhash.lower(), []).append(
                            (frame.index, "sticker_pdq", _ERASED + REGION_CODES[region]))
            usable += used
        with self._lock.read():
            scope = self._scope(banks)
            hits: dict[int, _Hits] = {}
            for name, value in (("md5", signals.md5), ("sha256", signals.sha256)):
                self._exact_hits(name, (value or "").lower(), scope, hits)
            self._perceptual(queries, scope, hits)
            kept = []
            for row, h in hits.items():
                frames = self._contents.frame_list(row)
                counts = FramesMatched(len(h.query_frames), usable, len(h.bank_frames), len(frames),
                                       covered(frames, h.bank_frames))
                if not h.exact and self._contents.frame_count[row] > 1 and not self._enough_frames(counts):
                    continue
                kept.append((row, h.best, counts))
            return self._make_all(kept, with_frame=True)

    def _enough_frames(self, c: FramesMatched) -> bool:
        """The animation rule: query ratio and bank coverage reach ``frame_match_ratio``."""
        r = self.frame_match_ratio
        return (c.query_total > 0 and c.bank_total > 0
                and c.query_matched / c.query_total >= r - _EPS
                and c.bank_covered / c.bank_total >= r - _EPS)

    def _make_all(self, kept: list[tuple[int, tuple, FramesMatched]], *,
                  with_frame: bool, meta: dict | None = None) -> list[Match]:
        if meta is None:
            meta = self._contents.metadata([row for row, _, _ in kept], self.resolver)
        out = []
        for row, best, counts in kept:
            dist, _rank, transform, frame, _sid, query_signal, bank_type, value = best
            key = int(self._contents.keys[row])
            bank = self._banks[key >> CONTENT_BITS]
            name, pack, content_labels = meta[row]
            exact = not SIGNAL_TYPES[bank_type].perceptual
            out.append(Match(
                bank=bank.name, bank_labels=bank.labels, content_id=key & MAX_CONTENT_ID,
                content_name=name, content_pack=pack,
                labels=_labels(bank.labels, content_labels), signal_type=bank_type,
                query_signal=query_signal, distance=dist,
                threshold=0 if exact else bank.threshold, value=value,
                query_frame=frame if (with_frame and not exact) else None,
                transform=TRANSFORM_NAMES[transform], frames_matched=counts,
            ))
        return sorted(out, key=lambda m: (m.distance, m.bank, m.content_id))

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
        with self._lock.read():
            scope = self._scope(banks)
            hits: dict[int, _Hits] = {}
            if kind.perceptual:
                self._perceptual({value: [(0, kind.name, 0)]}, scope, hits)
            else:
                self._exact_hits(kind.name, value, scope, hits)
            kept = [(row, h.best, FramesMatched(1, 1, len(h.bank_frames),
                                                self._contents.bank_total(row)))
                    for row, h in hits.items()]
            return self._make_all(kept, with_frame=False)

    def match_hashes(self, signal_type: str, values: Sequence[str], *,
                     banks: Sequence[str] | None = None) -> list[list[Match]]:
        """:meth:`match_hash` for many values of one type in one index search (bulk scans
        of hash lists): list i holds the matches of ``values[i]``.

        Raises:
            ValueError: unknown signal type or a malformed value (the first one).
            BankError: a name in ``banks`` is not loaded.
        """
        try:
            kind = _lookup_signal_type(signal_type)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        clean = [kind.validate(v) for v in values]
        unique = list(dict.fromkeys(clean))
        with self._lock.read():
            scope = self._scope(banks)
            per: list[dict[int, _Hits]] = [{} for _ in unique]
            if kind.perceptual:
                self._perceptual({v: [(0, kind.name, 0)] for v in unique}, scope, per)
            else:
                for v, hits in zip(unique, per):
                    self._exact_hits(kind.name, v, scope, hits)
            kept_per = [[(row, h.best, FramesMatched(1, 1, len(h.bank_frames),
                                                     self._contents.bank_total(row)))
                         for row, h in hits.items()] for hits in per]
            # one metadata call for the whole batch (a resolver reads the database)
            meta = self._contents.metadata(sorted({row for hits in per for row in hits}),
                                           self.resolver)
            out = {v: self._make_all(kept, with_frame=False, meta=meta)
                   for v, kept in zip(unique, kept_per)}
        return [list(out[v]) for v in clean]


#: Unmatched bank frames in a run this long or shorter, between two matched ones, count as covered.
MAX_GAP_FRAMES = 2


def covered(frames: Sequence[int], matched: set[int], max_gap: int = MAX_GAP_FRAMES) -> int:
    """How many of ``frames`` (an item's frame indexes, ascending) matched, or lie in a
    run of at most ``max_gap`` unmatched frames between two matched ones: the bank side
    of the animation rule (docs/matching.md).

    Why gaps count: a copy with frames dropped, or played at a lower frame rate, has no
    sample for some frames of the original, but each missing frame lies between two it
    does have. Only gaps *between* matches count, never frames before the first or after
    the last match, so an excerpt covers no more of the item than it shows.
    """
    ranks = [i for i, f in enumerate(frames) if f in matched]
    gaps = sum(b - a - 1 for a, b in zip(ranks, ranks[1:]) if b - a - 1 <= max_gap)
    return len(ranks) + gaps


def _labels(*groups) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for group in groups:
        for label in group or ():
            out.setdefault(label, None)
    return tuple(out)
