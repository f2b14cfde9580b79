"""Data shapes of matching: bank signal rows in, matches out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# Rows come from the bank store; one definition, re-exported here for the matcher.
from ..banks.ops import BankSignalRow




class FramesMatched(NamedTuple):
    """Frame counts behind a match (see docs/matching.md, "Animations").

    Attributes:
        query_matched: usable query frames that matched any frame of the bank item.
        query_total: usable query frames (a plain or canonical PDQ of quality >= min_quality).
        bank_matched: indexed frames of the bank item matched by any query frame.
        bank_total: indexed frames of the bank item (distinct frame indexes of its
            PDQ/sticker PDQ signals kept at load time).
        bank_covered: indexed frames of the bank item that matched, plus those in a run
            of at most 2 unmatched frames between two matched ones, in time order (what
            the animation rule compares with ``bank_total``: ``match.matcher.covered``;
            0 where no rule applies, e.g. hash lookups).
    """

    query_matched: int
    query_total: int
    bank_matched: int
    bank_total: int
    bank_covered: int = 0


@dataclass(frozen=True)
class Match:
    """One matched bank item: the best evidence for one (bank, content) pair.

    Attributes:
        bank: bank name; ``bank_labels`` its labels.
        content_id, content_name, content_pack: the matched bank item.
        labels: bank labels then content labels, de-duplicated, in that order.
        signal_type: bank-side type that matched: ``pdq``, ``sticker_pdq``, ``md5``, ``sha256``.
        query_signal: query-side type: ``pdq`` (plain), ``sticker_pdq`` (canonical),
            ``md5`` or ``sha256``.
        distance: Hamming distance in bits (0 for exact matches).
        threshold: the bank's threshold in bits (0 for exact matches).
        value: the bank hash that matched (hex).
        query_frame: ``FrameSignals.index`` of the query frame, None for exact and
            hash-only matches.
        transform: dihedral variant of the query hash that matched (``identity`` for
            exact matches and hash-only lookups).
        frames_matched: :class:`FramesMatched` counts.
    """

    bank: str
    bank_labels: tuple[str, ...]
    content_id: int
    content_name: str | None
    content_pack: str | None
    labels: tuple[str, ...]
    signal_type: str
    query_signal: str
    distance: int
    threshold: int
    value: str
    query_frame: int | None
    transform: str
    frames_matched: FramesMatched

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: tuples become lists, ``frames_matched`` a dict of its 5 counts."""
        return {
            "bank": self.bank,
            "bank_labels": list(self.bank_labels),
            "content_id": self.content_id,
            "content_name": self.content_name,
            "content_pack": self.content_pack,
            "labels": list(self.labels),
            "signal_type": self.signal_type,
            "query_signal": self.query_signal,
            "distance": self.distance,
            "threshold": self.threshold,
            "value": self.value,
            "query_frame": self.query_frame,
            "transform": self.transform,
            "frames_matched": self.frames_matched._asdict(),
        }
