"""Detection benchmark, scoring side: item distances per system, Matcher decisions, metrics.

Three systems see the same bank (the known items' originals) and the same queries:

* ``hma``: one PDQ per file (python-threatexchange ``PdqSignal``), compared with
  python-threatexchange's own ``PDQIndex`` at its threshold (31) for the decisions and
  with plain Hamming distance for the curves.
* ``sg_plain``: stickerguard plain PDQ only: bank ``pdq`` rows, queries with their
  canonical hashes removed; the real :class:`stickerguard.match.Matcher` decides.
* ``sg_canonical``: everything stickerguard stores and searches: bank ``pdq`` +
  ``sticker_pdq`` + flattened variants (as ``banks.add_media`` writes them), queries
  with plain and canonical hashes in 8 dihedral variants; the real Matcher decides.

For the curves (recall at precision 99.99 %, histograms) the same rules are evaluated
with numpy for every (query, bank item) pair as an *item distance*: the smallest
threshold at which the Matcher would report the pair (for an item with more than one
frame: the smallest threshold at which both frame ratios reach 0.8, see
docs/matching.md). At threshold 31 these distances reproduce the Matcher's decisions;
the benchmark counts and reports any disagreement.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from stickerguard.match import Matcher
from stickerguard.index.bankrows import REGION_CODES
from stickerguard.match.matcher import OCCLUDED_THRESHOLD, covered
from stickerguard.match.types import BankSignalRow
from stickerguard.signals import MediaSignals

THRESHOLD = 31
MIN_QUALITY = 50
FRAME_RATIO = 0.8
#: Item distance meaning "never reported" (no usable hash, or no frame-rule pass).
NEVER = 257


def bank_rows(items: list[tuple[int, MediaSignals]], *, canonical: bool) -> list[BankSignalRow]:
    """Matcher rows for the known items, as ``banks.io._media_item`` stores a hashed file.

    Per frame: ``pdq`` (its quality); with ``canonical``: ``sticker_pdq`` (canonical
    quality), one ``sticker_pdq`` per flattened variant (quality None) and one per
    occluded form (its quality, ``region`` set).
    ``content_frame_count`` = number of kept frames. MD5/SHA-256 rows are left out: this
    benchmark measures perceptual matching (exact bytes would match trivially).
    """
    rows: list[BankSignalRow] = []
    for cid, sig in items:
        base = dict(bank_id=1, bank_name="known", bank_threshold=THRESHOLD, bank_labels=(), content_id=cid,
                    content_name=str(cid), content_pack=None, content_labels=(),
                    content_frame_count=len(sig.frames), animated=sig.animated)
        for f in sig.frames:
            vals = [("pdq", f.pdq, f.quality)]
            if canonical and f.canonical_pdq:
                vals.append(("sticker_pdq", f.canonical_pdq, f.canonical_quality))
                vals += [("sticker_pdq", v, None) for v in f.canonical_variants]
            vals = [v + (None,) for v in vals]
            if canonical and f.canonical_pdq:
                vals += [("sticker_pdq", v, q, region) for region, v, q, _share in f.canonical_occluded]
            for kind, value, q, region in vals:
                rows.append(BankSignalRow(signal_id=len(rows) + 1, signal_type=kind, value=value,
                                          frame_index=f.index, quality=q, region=region, **base))
    return rows


def plain_only(sig: MediaSignals) -> MediaSignals:
    """``sig`` with every canonical hash removed (what a plain-PDQ-only system queries)."""
    frames = [dataclasses.replace(f, canonical_pdq=None, canonical_quality=0, canonical_dihedral=(),
                                  canonical_variants=(), canonical_occluded=()) for f in sig.frames]
    return dataclasses.replace(sig, frames=frames)


def _words(hexes: list[str]) -> np.ndarray:
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").reshape(-1, 4)
    return raw.astype(np.uint64)


class Bank:
    """The bank signals of one system as arrays, for exact item distances.

    Args:
        rows: rows from :func:`bank_rows` (quality < 50 dropped as the Matcher does).
        n_items: content ids are 0..n_items-1.
    """

    def __init__(self, rows: list[BankSignalRow], n_items: int) -> None:
        rows = [r for r in rows if r.quality is None or r.quality >= MIN_QUALITY]
        self.n_items = n_items
        self.words = _words([r.value for r in rows])
        self.item = np.array([r.content_id for r in rows], dtype=np.int64)
        self.frame = np.array([r.frame_index for r in rows], dtype=np.int64)
        self.sticker = np.array([r.signal_type == "sticker_pdq" for r in rows], dtype=bool)
        self.region = np.array([REGION_CODES[r.region] for r in rows], dtype=np.int64)
        counts = {}
        for r in rows:
            counts[r.content_id] = r.content_frame_count
        self.multi = sorted(c for c, n in counts.items() if n > 1)
        self.multi_cols = {c: np.flatnonzero(self.item == c) for c in self.multi}

    def distances(self, sig: MediaSignals | None, *, canonical: bool) -> np.ndarray:
        """Item distance (bits; :data:`NEVER` = not reportable) of ``sig`` to each item.

        Query hashes as the Matcher searches them: plain (quality >= 50) in its 8
        dihedral variants against ``pdq``; canonical (quality >= 50, only with
        ``canonical``) against ``sticker_pdq`` and ``pdq``; occluded canonical hashes
        (quality >= 50, only with ``canonical``) against the bank's hashes of the same
        region within ``OCCLUDED_THRESHOLD`` (every other pair: region 0 on both sides).
        """
        out = np.full(self.n_items, NEVER, dtype=np.int64)
        if sig is None or len(self.words) == 0:
            return out
        hexes, frames, is_canon, regions = [], [], [], []
        usable = []
        for f in sig.frames:
            used = False
            sides = [(f.pdq, f.quality, f.pdq_dihedral, False)]
            if canonical:
                sides.append((f.canonical_pdq, f.canonical_quality, f.canonical_dihedral, True))
            for base, q, variants, canon in sides:
                if not base or q < MIN_QUALITY:
                    continue
                used = True
                for h in dict.fromkeys(variants or (base,)):
                    hexes.append(h)
                    frames.append(f.index)
                    is_canon.append(canon)
                    regions.append(0)
            if used:
                usable.append(f.index)
                for region, h, q, _share in (f.canonical_occluded if canonical else ()):
                    if q >= MIN_QUALITY:
                        hexes.append(h)
                        frames.append(f.index)
                        is_canon.append(True)
                        regions.append(REGION_CODES[region])
        if not hexes:
            return out
        q = _words(hexes)
        d = np.bitwise_count(q[:, None, :] ^ self.words[None, :, :]).sum(axis=2, dtype=np.int64)
        d[~np.array(is_canon)[:, None] & self.sticker[None, :]] = NEVER  # plain never meets sticker_pdq
        qregion = np.array(regions)
        d[qregion[:, None] != self.region[None, :]] = NEVER  # the region rule
        d[(qregion[:, None] > 0) & (d > OCCLUDED_THRESHOLD)] = NEVER
        qframes = np.array(frames)
        per_frame = np.stack([d[qframes == fi].min(axis=0) for fi in usable])  # (Fq, M)
        best = per_frame.min(axis=0)
        np.minimum.at(out, self.item, best)
        for c in self.multi:
            out[c] = _frame_rule(per_frame[:, self.multi_cols[c]], self.frame[self.multi_cols[c]])
        return out


def _kth(values: np.ndarray, ratio: float) -> int:
    k = max(1, math.ceil(ratio * len(values) - 1e-9))
    return int(np.sort(values)[k - 1])


def _frame_rule(per_frame: np.ndarray, bank_frames: np.ndarray) -> int:
    """Smallest threshold at which the query ratio and the bank coverage reach
    ``FRAME_RATIO`` (``match.matcher.covered``: matched bank frames plus short gaps
    between them; docs/matching.md)."""
    ids = np.unique(bank_frames)  # ascending: time order
    e = np.stack([per_frame[:, bank_frames == b].min(axis=1) for b in ids], axis=1)  # (Fq, Fb)
    col = e.min(axis=0)
    need_q = _kth(e.min(axis=1), FRAME_RATIO)
    for t in sorted(set(col.tolist())):  # coverage only grows with the threshold
        if covered(range(len(ids)), set(np.flatnonzero(col <= t).tolist())) >= FRAME_RATIO * len(ids) - 1e-9:
            return max(need_q, int(t))
    return NEVER


def hma_distances(query: str, bank: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Hamming distances of one HMA PDQ (hex; "" = none) to the (n, 4) bank words.

    ``valid`` marks bank items that have an HMA hash; others (and a query without a
    hash) get :data:`NEVER`.
    """
    if not query:
        return np.full(len(bank), NEVER, dtype=np.int64)
    d = np.bitwise_count(_words([query]) ^ bank).sum(axis=1, dtype=np.int64)
    d[~valid] = NEVER
    return d


def matcher_hits(matcher: Matcher, sig: MediaSignals | None) -> set[int]:
    """Content ids the real Matcher reports for ``sig`` at the bank threshold (empty for None)."""
    if sig is None:
        return set()
    return {m.content_id for m in matcher.match(sig)}


def hma_hits(index, query: str) -> set[int]:
    """Content ids python-threatexchange's ``PDQIndex`` returns for one hash ("" = none)."""
    if not query:
        return set()
    return {int(m.metadata) for m in index.query(query)}
