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
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BankError
from .bankrows import FRAME_BITS, KINDS, REGION_SHIFT, Bank, collect_fast, collect_rows, labels_of, where
from .contents import CONTENT_BITS, ContentTable, Resolver, db_resolver
from .exact import ExactIndex
from .pdq import PDQIndex
from .persist import read_arrays, replace_dir, write_arrays
from .rwlock import RWLock

DEFAULT_MIN_QUALITY = 50
"""PDQ quality below this is not meaningful (Meta's PDQ guidance); such hashes are skipped."""
DEFAULT_FRAME_MATCH_RATIO = 0.8
"""Fraction of frames that must match, on both sides, for an animated bank item."""

_BATCH = 50_000
_FORMAT = 2  # 2: payloads carry a region code (bank signals' ``region``, migration 0003)


def _rows_of(keys: np.ndarray, rows: np.ndarray, ckeys: np.ndarray) -> np.ndarray:
    """Content row (int64) of each of ``ckeys``, all among ``keys`` (row ``rows[i]``)."""
    if len(keys) == 1:
        return np.full(len(ckeys), rows[0], dtype=np.int64)
    order = np.argsort(keys)
    return rows[order][np.searchsorted(keys[order], ckeys)]


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
        self._banks: dict[int, Bank] = {}
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
        rebuild (33-43 s at 10 M), only for the swap."""
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
        batch = collect_fast(self, rows, seen_banks) or collect_rows(self, rows, seen_banks)
        all_sids = np.concatenate([batch.p_sid, np.asarray(batch.e_sid, dtype=np.int64)])
        held = self._pdq.contains(all_sids)
        if held.any():  # a PDQ signal id already held (under any type)
            sid = int(all_sids[held][0])
            ckeys = batch.p_ckey.tolist() + batch.e_ckey
            bank = self._banks[ckeys[all_sids.tolist().index(sid)] >> CONTENT_BITS]
            raise BankError(f"{where(sid, bank.name)}: signal id given twice")
        for bank_id, count in batch.skipped.items():
            self._banks[bank_id].skipped_low_quality += count
        keys, crows = self._content_rows(*batch.new)
        t_rows = _rows_of(keys, crows, batch.touched)
        before = self._contents.refs[t_rows] == 0
        np.add.at(self._contents.refs, t_rows, 1)
        for r in np.unique(t_rows[before]).tolist():
            self._banks[int(self._contents.keys[r]) >> CONTENT_BITS].contents += 1
        if len(batch.p_sid):
            c_rows = _rows_of(keys, crows, batch.p_ckey)
            payload = (c_rows << 24) | (batch.p_region << REGION_SHIFT) | (batch.p_frame << 1) | batch.p_kind
            self._pdq.add(batch.p_sid, batch.p_codes, payload, compact=False)
            self._contents.add_frame(c_rows, batch.p_frame, +1)
        e_rows = _rows_of(keys, crows, np.asarray(batch.e_ckey, dtype=np.int64)).tolist()
        for sid, value, crow, kind in zip(batch.e_sid, batch.e_value, e_rows, batch.e_kind):
            self._exact[kind].add([sid], [value])
            self._exact_rows[sid] = (crow, kind)
        for (bank_id, kind), count in batch.per_bank.items():
            signals = self._banks[bank_id].signals
            signals[kind] = signals.get(kind, 0) + count
        return len(batch.p_sid) + len(batch.e_sid)

    def _content_rows(self, keys: np.ndarray, frame_counts: np.ndarray,
                      firsts: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, content row of each)``, appending the unknown keys (``frame_counts``
        and ``firsts``, the first row of each key, give their frame count and metadata)."""
        found = self._contents.find(keys)
        miss = np.flatnonzero(found < 0)
        if len(miss):
            order = miss[np.argsort(keys[miss], kind="stable")]
            meta = ([(r.content_name, r.content_pack, tuple(r.content_labels or ()))
                     for r in (firsts[i] for i in order.tolist())]
                    if self._contents.keep_metadata else None)
            found[order] = self._contents.append(keys[order], frame_counts[order].astype(np.int32), meta)
        return keys, found

    def _bank(self, row: Any, bank_id: int, sid: int, seen: dict[int, tuple[str, int]]) -> Bank:
        """Bank of ``row``: checked once per bank per call, compared on every row."""
        name, threshold = row.bank_name, row.bank_threshold
        prev = seen.get(bank_id)
        if prev is not None:
            if prev[0] != name:
                raise BankError(f"{where(sid, name)}: bank id {bank_id} is also named {prev[0]!r}")
            if prev[1] != threshold:
                raise BankError(f"{where(sid, name)}: bank threshold {threshold} differs from "
                                f"{prev[1]} seen in an earlier row of the same bank")
            return self._banks[bank_id]
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= 256:
            raise BankError(f"{where(sid, name)}: bank threshold must be 0..256 bits, saw {threshold!r}")
        other = self._bank_ids.get(name)
        if other is not None and other != bank_id:
            raise BankError(f"{where(sid, name)}: bank name {name!r} is used by two bank ids")
        bank = self._banks.get(bank_id)
        if bank is None:
            bank = self._banks[bank_id] = Bank(name, threshold, labels_of(row.bank_labels),
                                                bool(getattr(row, "bank_enabled", True)))
        else:
            self._bank_ids.pop(bank.name, None)
            bank.name, bank.threshold, bank.labels = name, threshold, labels_of(row.bank_labels)
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
                bank.labels = labels_of(labels)
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
            self._banks[bid] = Bank(name, threshold, tuple(labels), enabled, contents,
                                     dict(signals), skipped)
            self._bank_ids[name] = bid
        for sid, row, kind, value in meta["exact"]:
            self._exact[kind].add([sid], [value])
            self._exact_rows[sid] = (row, kind)
        return self
