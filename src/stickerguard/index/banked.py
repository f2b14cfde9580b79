"""BankIndex: every bank signal held in compact, incremental, persistent indexes.

The matching rules live in ``stickerguard.match.Matcher``, a subclass. Per-signal data
is numpy arrays (``PDQIndex`` payloads, ``ContentTable`` columns), not Python objects:
about 100 bytes per PDQ hash all told (docs/bench/index.md).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BankError
from ..signals.base import SIGNAL_TYPES
from .contents import CONTENT_BITS, ContentTable, Resolver, content_key, db_resolver
from .codes import pdq_hex_to_array
from .exact import ExactIndex
from .pdq import PDQIndex
from .persist import read_arrays, replace_dir, write_arrays
from .rwlock import RWLock

DEFAULT_MIN_QUALITY = 50
"""PDQ quality below this is not meaningful (Meta's PDQ guidance); such hashes are skipped."""
DEFAULT_FRAME_MATCH_RATIO = 0.8
"""Fraction of frames that must match, on both sides, for an animated bank item."""

KINDS = ("pdq", "sticker_pdq", "md5", "sha256")  # kind codes (index) in payloads/saves
FRAME_BITS = 23  # payload = content_row << 24 | frame_index << 1 | kind (0 pdq, 1 sticker_pdq)
_BATCH = 50_000
_FORMAT = 1


@dataclass(slots=True)
class _Bank:
    name: str
    threshold: int
    labels: tuple[str, ...]
    enabled: bool
    contents: int = 0
    signals: dict[str, int] = field(default_factory=dict)
    skipped_low_quality: int = 0


def _labels(*groups: Iterable[str] | None) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for group in groups:
        for label in group or ():
            out.setdefault(label, None)
    return tuple(out)


def _where(sid: int, bank: str) -> str:
    return f"signal {sid} (bank {bank!r})"


class BankIndex:
    """Bank signals held in memory: one :class:`PDQIndex` for all ``pdq`` and
    ``sticker_pdq`` signals, one :class:`ExactIndex` each for ``md5`` and ``sha256``,
    a :class:`ContentTable` and the banks (name, threshold, labels, enabled, counts).

    Build with :meth:`from_rows`, :meth:`from_db` or :meth:`load`; keep up to date with
    :meth:`add_rows`, :meth:`remove_signals` and :meth:`set_bank` (changes are visible
    to the next :meth:`match`). Thread-safe: matches run concurrently, changes wait for
    running matches and block new ones while they apply.

    Args:
        min_quality: PDQ quality (0..100) below which query hashes are not searched and
            bank hashes are not indexed (bank quality None = unknown = indexed).
        frame_match_ratio: fraction (0..1] of frames that must match on both sides
            for bank items with more than one frame.
        resolver: optional callback ``content ids -> {id: (name, pack, labels)}`` called
            for the few matched contents; when given, row names/packs/labels are not
            kept in memory (10 M hash-list items would cost ~1 GB of strings).
        crossover: :class:`PDQIndex` size from which multi-index hashing is used.

    Attributes:
        position: caller-owned sync marker saved and loaded with the index (e.g. the
            last ``change_log`` id applied); None until set.
    """

    def __init__(self, *, min_quality: int = DEFAULT_MIN_QUALITY,
                 frame_match_ratio: float = DEFAULT_FRAME_MATCH_RATIO,
                 resolver: Resolver | None = None, crossover: int | None = None) -> None:
        if not 0 <= min_quality <= 100:
            raise ValueError(f"min_quality must be 0..100, saw {min_quality}")
        if not 0 < frame_match_ratio <= 1:
            raise ValueError(f"frame_match_ratio must be in (0, 1], saw {frame_match_ratio}")
        self.min_quality = min_quality
        self.frame_match_ratio = frame_match_ratio
        self.resolver = resolver
        self.position: Any = None
        self._pdq = PDQIndex() if crossover is None else PDQIndex(crossover=crossover)
        self._exact = {"md5": ExactIndex(), "sha256": ExactIndex()}
        self._exact_rows: dict[int, tuple[int, str]] = {}  # sid -> (content row, kind)
        self._contents = ContentTable(keep_metadata=resolver is None)
        self._banks: dict[int, _Bank] = {}
        self._bank_ids: dict[str, int] = {}
        self._lock = RWLock()
        self._rebuild: threading.Thread | None = None

    # ----------------------------------------------------------------- building

    @classmethod
    def from_rows(cls, rows: Iterable[Any], **options: Any) -> BankIndex:
        """Build from bank signal rows (:class:`~stickerguard.match.BankSignalRow` fields).

        See :meth:`add_rows` for the rules and errors; ``options`` go to the constructor.
        """
        self = cls(**options)
        self.add_rows(rows)
        return self

    @classmethod
    def from_db(cls, db: Any, banks: Sequence[str] | None = None, *,
                lazy_metadata: bool = False, **options: Any) -> BankIndex:
        """Load the enabled banks (or only ``banks``, by name) from the database.

        ``db`` is whatever ``stickerguard.banks.iter_bank_signals`` accepts (a session
        or the store handle); errors for unknown bank names come from there. With
        ``lazy_metadata`` content names/packs/labels are read from ``db`` (a
        ``store.db.Database``) for matched contents only, which keeps memory compact.
        """
        if lazy_metadata:
            options["resolver"] = db_resolver(db)
        banks_module = importlib.import_module("stickerguard.banks")
        return cls.from_rows(banks_module.iter_bank_signals(db, banks), **options)

    def add_rows(self, rows: Iterable[Any]) -> int:
        """Index more bank signal rows; each is matchable when this returns.

        Rows are read by attribute (:class:`~stickerguard.match.BankSignalRow`) in
        batches of 50 000. A row's bank fields (name, threshold, labels) update the
        bank; ``bank_enabled`` is read only for a bank seen for the first time (then use
        :meth:`set_bank`). PDQ/sticker PDQ rows with a known quality below
        ``min_quality`` are counted as ``skipped_low_quality`` and not indexed.

        Returns:
            how many signals were indexed.

        Raises:
            BankError: a signal id already held or repeated, an unknown signal type, a
                malformed value, a threshold outside 0..256, a bank whose rows disagree
                on its name or threshold within one call, or a bank name used by two
                bank ids; the message names the signal id and the value seen. Batches
                before the bad row stay added.
        """
        it = iter(rows)
        added, seen_banks = 0, {}
        with self._lock.write():
            try:
                while batch := list(islice(it, _BATCH)):
                    added += self._add_batch(batch, seen_banks)
            finally:
                self._after_change()
        return added

    def _after_change(self) -> None:
        """Compact or rebuild after a change (writer lock held). A bulk load (no MIH yet,
        or a tail larger than the base) rebuilds here; a service's trickle of adds gets
        its MIH rebuild in a background thread, so matches are never held for the
        rebuild (67 s at 10 M), only for the swap."""
        pdq = self._pdq
        if not pdq.needs_rebuild() or pdq.structure == "flat" or pdq.tail > pdq.base:
            pdq.maybe_compact()
            return
        pdq.sync()
        if self._rebuild is None or not self._rebuild.is_alive():
            self._rebuild = threading.Thread(target=self._rebuild_tables, name="pdq-rebuild",
                                             daemon=True)
            self._rebuild.start()

    def _rebuild_tables(self) -> None:
        tables = self._pdq.build_tables()
        with self._lock.write():
            self._pdq.install_tables(*tables)

    def wait_rebuild(self, timeout: float | None = None) -> None:
        """Wait for a background MIH rebuild (started by :meth:`add_rows`) to finish."""
        if self._rebuild is not None:
            self._rebuild.join(timeout)

    def _add_batch(self, rows: list[Any], seen_banks: dict[int, tuple[str, int]]) -> int:
        sids: set[int] = set()
        pdq: tuple[list, ...] = ([], [], [], [], [])  # sid, value, ckey, frame, kind code
        exact: tuple[list, ...] = ([], [], [], [])  # sid, value, ckey, kind
        touched: list[int] = []  # ckey per row (indexed or skipped): content refcounts
        new: dict[int, tuple[int, Any]] = {}  # ckey -> (frame_count, row) first seen
        per_bank: dict[tuple[int, str], int] = {}
        for row in rows:
            sid = int(row.signal_id)
            bank_id = int(row.bank_id)
            bank = self._bank(row, bank_id, sid, seen_banks)
            if sid in sids or sid in self._exact_rows:
                raise BankError(f"{_where(sid, bank.name)}: signal id given twice")
            sids.add(sid)
            kind = SIGNAL_TYPES.get(row.signal_type)
            if kind is None:
                raise BankError(f"{_where(sid, bank.name)}: unknown signal type "
                                f"{row.signal_type!r}; known: {', '.join(SIGNAL_TYPES)}")
            try:
                value = kind.validate(row.value)
                ckey = content_key(bank_id, int(row.content_id))
            except ValueError as exc:
                raise BankError(f"{_where(sid, bank.name)}: {exc}") from None
            if ckey not in new:
                new[ckey] = (int(row.content_frame_count or 1), row)
            touched.append(ckey)
            if kind.perceptual:
                if row.quality is not None and row.quality < self.min_quality:
                    bank.skipped_low_quality += 1
                    continue
                frame = int(row.frame_index)
                if not 0 <= frame < 1 << FRAME_BITS:
                    raise BankError(f"{_where(sid, bank.name)}: frame index must be "
                                    f"0..{(1 << FRAME_BITS) - 1}, saw {frame}")
                for lst, v in zip(pdq, (sid, value, ckey, frame, KINDS.index(kind.name))):
                    lst.append(v)
            else:
                for lst, v in zip(exact, (sid, value, ckey, kind.name)):
                    lst.append(v)
            per_bank[bank_id, kind.name] = per_bank.get((bank_id, kind.name), 0) + 1
        p_sids = np.asarray(pdq[0], dtype=np.int64)
        all_sids = np.concatenate([p_sids, np.asarray(exact[0], dtype=np.int64)])
        held = self._pdq.contains(all_sids)
        if held.any():  # a PDQ signal id already held (under any type)
            sid = int(all_sids[held][0])
            ckeys = pdq[2] + exact[2]
            bank = self._banks[ckeys[(pdq[0] + exact[0]).index(sid)] >> CONTENT_BITS]
            raise BankError(f"{_where(sid, bank.name)}: signal id given twice")
        rows_of = self._content_rows(new)
        t_rows = np.asarray([rows_of[k] for k in touched], dtype=np.int64)
        before = self._contents.refs[t_rows] == 0
        np.add.at(self._contents.refs, t_rows, 1)
        for r in np.unique(t_rows[before]).tolist():
            self._banks[int(self._contents.keys[r]) >> CONTENT_BITS].contents += 1
        if pdq[0]:
            c_rows = np.asarray([rows_of[k] for k in pdq[2]], dtype=np.int64)
            frames = np.asarray(pdq[3], dtype=np.int64)
            payload = (c_rows << 24) | (frames << 1) | np.asarray(pdq[4], dtype=np.int64)
            self._pdq.add(p_sids, pdq_hex_to_array(pdq[1]), payload, compact=False)
            self._contents.add_frame(c_rows, frames, +1)
        for sid, value, ckey, kind in zip(*exact):
            self._exact[kind].add([sid], [value])
            self._exact_rows[sid] = (rows_of[ckey], kind)
        for (bank_id, kind), count in per_bank.items():
            signals = self._banks[bank_id].signals
            signals[kind] = signals.get(kind, 0) + count
        return len(pdq[0]) + len(exact[0])

    def _content_rows(self, new: dict[int, tuple[int, Any]]) -> dict[int, int]:
        """Content row of every key in ``new``, appending the unknown ones."""
        keys = np.fromiter(new, dtype=np.int64, count=len(new))
        found = self._contents.find(keys)
        missing = keys[found < 0]
        if len(missing):
            order = np.argsort(missing, kind="stable")
            missing = missing[order]
            firsts = [new[int(k)] for k in missing]
            meta = ([(r.content_name, r.content_pack, tuple(r.content_labels or ())) for _, r in firsts]
                    if self._contents.keep_metadata else None)
            found[found < 0] = self._contents.append(
                missing, np.asarray([fc for fc, _ in firsts], dtype=np.int32), meta)[np.argsort(order)]
        return dict(zip(keys.tolist(), found.tolist()))

    def _bank(self, row: Any, bank_id: int, sid: int, seen: dict[int, tuple[str, int]]) -> _Bank:
        """Bank of ``row``: checked once per bank per call, compared on every row."""
        name, threshold = row.bank_name, row.bank_threshold
        prev = seen.get(bank_id)
        if prev is not None:
            if prev[0] != name:
                raise BankError(f"{_where(sid, name)}: bank id {bank_id} is also named {prev[0]!r}")
            if prev[1] != threshold:
                raise BankError(f"{_where(sid, name)}: bank threshold {threshold} differs from "
                                f"{prev[1]} seen in an earlier row of the same bank")
            return self._banks[bank_id]
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 256:
            raise BankError(f"{_where(sid, name)}: bank threshold must be 0..256 bits, saw {threshold!r}")
        other = self._bank_ids.get(name)
        if other is not None and other != bank_id:
            raise BankError(f"{_where(sid, name)}: bank name {name!r} is used by two bank ids")
        bank = self._banks.get(bank_id)
        if bank is None:
            bank = self._banks[bank_id] = _Bank(name, threshold, _labels(row.bank_labels),
                                                bool(getattr(row, "bank_enabled", True)))
        else:
            self._bank_ids.pop(bank.name, None)
            bank.name, bank.threshold, bank.labels = name, threshold, _labels(row.bank_labels)
        self._bank_ids[name] = bank_id
        seen[bank_id] = (name, threshold)
        return bank

    def remove_signals(self, ids: Iterable[int]) -> int:
        """Stop matching these bank signal ids (unknown ids are ignored); returns how many
        were held. Perceptual hashes are tombstoned and compacted later (``PDQIndex``)."""
        id_arr = np.unique(np.fromiter((int(i) for i in ids), dtype=np.int64))
        with self._lock.write():
            held = self._pdq.contains(id_arr)
            removed: list[tuple[int, str, int | None]] = []  # (content row, kind, frame)
            for payload in self._pdq.payload_of(id_arr[held]).tolist():
                removed.append((payload >> 24, KINDS[payload & 1], (payload >> 1) & ((1 << FRAME_BITS) - 1)))
            self._pdq.remove(id_arr[held])
            for sid in id_arr[~held].tolist():
                entry = self._exact_rows.pop(sid, None)
                if entry is not None:
                    self._exact[entry[1]].remove([sid])
                    removed.append((entry[0], entry[1], None))
            for row, kind, frame in removed:
                bank = self._banks[int(self._contents.keys[row]) >> CONTENT_BITS]
                bank.signals[kind] -= 1
                if not bank.signals[kind]:
                    del bank.signals[kind]
                self._contents.refs[row] -= 1
                if self._contents.refs[row] == 0:
                    bank.contents -= 1
                if frame is not None:
                    self._contents.add_frame(np.array([row]), np.array([frame]), -1)
        return len(removed)

    def set_bank(self, bank_id: int, *, threshold: int | None = None, enabled: bool | None = None,
                 labels: Sequence[str] | None = None) -> bool:
        """Change a held bank's threshold (bits, 0..256), enabled flag or labels.

        A disabled bank's signals stay held but never match, and it leaves :attr:`banks`.
        Returns False (and changes nothing) for a bank id with no rows held: its rows
        will carry its fields when added. Raises ValueError for a bad threshold.
        """
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int)
                                      or not 0 <= threshold <= 256):
            raise ValueError(f"bank threshold must be 0..256 bits, saw {threshold!r}")
        with self._lock.write():
            bank = self._banks.get(int(bank_id))
            if bank is None:
                return False
            if threshold is not None:
                bank.threshold = threshold
            if enabled is not None:
                bank.enabled = bool(enabled)
            if labels is not None:
                bank.labels = _labels(labels)
        return True

    # ----------------------------------------------------------------- reading

    @property
    def banks(self) -> list[str]:
        """Names of the loaded banks (enabled, with at least one content), sorted."""
        return sorted(b.name for b in self._banks.values() if b.enabled and b.contents)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per loaded bank name: ``threshold`` (bits), ``contents`` (items with any signal
        row held), ``signals`` (indexed count per signal type) and ``skipped_low_quality``."""
        with self._lock.read():
            return {b.name: {"threshold": b.threshold, "contents": b.contents,
                             "signals": dict(sorted(b.signals.items())),
                             "skipped_low_quality": b.skipped_low_quality}
                    for b in sorted(self._banks.values(), key=lambda b: b.name)
                    if b.enabled and b.contents}

    def __len__(self) -> int:
        """Number of indexed bank signals (all types)."""
        return len(self._pdq) + len(self._exact_rows)

    # ----------------------------------------------------------------- persistence

    def save(self, directory: str | Path) -> None:
        """Write the whole matcher (indexes, contents, banks, options, :attr:`position`)
        to ``directory``, replacing it atomically (written aside, then renamed)."""
        final = Path(directory)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        with self._lock.write():
            self._pdq.save(tmp)
            self._contents.save(tmp)
            exact = [[sid, row, kind, self._exact_value(sid, kind)]
                     for sid, (row, kind) in self._exact_rows.items()]
            banks = [[bid, b.name, b.threshold, list(b.labels), b.enabled, b.contents,
                      b.signals, b.skipped_low_quality] for bid, b in self._banks.items()]
            write_arrays(tmp, "matcher", {}, {
                "format": _FORMAT, "position": self.position, "min_quality": self.min_quality,
                "frame_match_ratio": self.frame_match_ratio, "banks": banks, "exact": exact})
        replace_dir(tmp, final)

    def _exact_value(self, sid: int, kind: str) -> str:
        return self._exact[kind].value_of(sid)

    @classmethod
    def load(cls, directory: str | Path, *, resolver: Resolver | None = None) -> BankIndex:
        """Read a matcher written by :meth:`save` (no database access, no rebuild).

        Raises:
            ValueError: the directory is not a saved matcher or its files disagree.
        """
        d = Path(directory)
        _arrays, meta = read_arrays(d, "matcher")
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{d}: unsupported matcher format {meta.get('format')!r}")
        self = cls(min_quality=meta["min_quality"], frame_match_ratio=meta["frame_match_ratio"],
                   resolver=resolver)
        self.position = meta["position"]
        self._pdq = PDQIndex.load(d)
        self._contents = ContentTable.load(d)
        for bid, name, threshold, labels, enabled, contents, signals, skipped in meta["banks"]:
            self._banks[bid] = _Bank(name, threshold, tuple(labels), enabled, contents,
                                     dict(signals), skipped)
            self._bank_ids[name] = bid
        for sid, row, kind, value in meta["exact"]:
            self._exact[kind].add([sid], [value])
            self._exact_rows[sid] = (row, kind)
        return self
