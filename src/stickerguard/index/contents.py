"""Compact per-content table for the matcher: numpy columns, one row per (bank, content).

A row holds the content's key (``bank_id << 40 | content_id``), its ``frame_count``, how
many held signal rows refer to it, and the reference count of its indexed perceptual
frame 0 (other frames, only found in animations, are kept in a small dict). Names,
packs and labels are kept in Python lists only when no resolver supplies them lazily.
About 22 bytes per content without metadata (10 M hash-list items: about 220 MB).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .persist import read_arrays, write_arrays

CONTENT_BITS = 40
"""Bits of ``content_id`` in a content key; bank ids take the bits above."""
MAX_BANK_ID = (1 << 22) - 1
MAX_CONTENT_ID = (1 << CONTENT_BITS) - 1

Metadata = tuple[str | None, str | None, tuple[str, ...]]
"""(name, pack, content labels) of one content."""
Resolver = Callable[[Sequence[int]], dict[int, Metadata]]
"""Callback: content ids -> {content id: (name, pack, labels)}; ids missing from the
answer are reported with name/pack None and no labels."""


def content_key(bank_id: int, content_id: int) -> int:
    """Pack a (bank id, content id) pair into one int64 key.

    Raises:
        ValueError: bank id outside 0..2**22-1 or content id outside 0..2**40-1.
    """
    if not 0 <= bank_id <= MAX_BANK_ID:
        raise ValueError(f"bank id must be 0..{MAX_BANK_ID}, saw {bank_id}")
    if not 0 <= content_id <= MAX_CONTENT_ID:
        raise ValueError(f"content id must be 0..{MAX_CONTENT_ID}, saw {content_id}")
    return (bank_id << CONTENT_BITS) | content_id


def _grow(arr: np.ndarray, need: int) -> np.ndarray:
    if need <= len(arr):
        return arr
    out = np.zeros(max(need, len(arr) + len(arr) // 2, 256), dtype=arr.dtype)
    out[:len(arr)] = arr
    return out


class ContentTable:
    """Rows of (bank, content) with reference counts and optional in-memory metadata.

    Args:
        keep_metadata: keep name/pack/labels in memory (False when a resolver answers).
    """

    def __init__(self, *, keep_metadata: bool = True) -> None:
        self.keep_metadata = keep_metadata
        self.keys = np.empty(0, dtype=np.int64)
        self.frame_count = np.empty(0, dtype=np.int32)
        self.refs = np.empty(0, dtype=np.int32)
        self.frame0 = np.empty(0, dtype=np.int32)
        self.frames: dict[int, dict[int, int]] = {}  # row -> {frame >= 1: refcount}
        self.names: list[str | None] = []
        self.packs: list[str | None] = []
        self.labels: list[tuple[str, ...]] = []
        self.n = 0
        self._sorted = True
        self._order: np.ndarray | None = None

    def __len__(self) -> int:
        return self.n

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key (int64 array), -1 where absent."""
        n = self.n
        out = np.full(len(keys), -1, dtype=np.int64)
        if not n or not len(keys):
            return out
        if self._sorted:
            sorted_keys, order = self.keys[:n], None
        else:
            if self._order is None:
                self._order = np.argsort(self.keys[:n], kind="stable")
            order = self._order
            sorted_keys = self.keys[:n][order]
        at = np.minimum(np.searchsorted(sorted_keys, keys), n - 1)
        hit = sorted_keys[at] == keys
        out[hit] = at[hit] if order is None else order[at[hit]]
        return out

    def append(self, keys: np.ndarray, frame_counts: np.ndarray,
               metadata: Iterable[Metadata] | None) -> np.ndarray:
        """Append new rows (keys must be absent and distinct); returns their row numbers."""
        n, k = self.n, len(keys)
        for name in ("keys", "frame_count", "refs", "frame0"):
            setattr(self, name, _grow(getattr(self, name), n + k))
        self.keys[n:n + k] = keys
        self.frame_count[n:n + k] = frame_counts
        self.refs[n:n + k] = 0
        self.frame0[n:n + k] = 0
        if self.keep_metadata:
            for name, pack, labels in metadata or [(None, None, ())] * k:
                self.names.append(name)
                self.packs.append(pack)
                self.labels.append(tuple(labels))
        if k and self._sorted and ((n and keys[0] <= self.keys[n - 1]) or np.any(np.diff(keys) <= 0)):
            self._sorted = False
        self._order = None
        self.n = n + k
        return np.arange(n, n + k, dtype=np.int64)

    def add_frame(self, rows: np.ndarray, frames: np.ndarray, delta: int) -> None:
        """Add ``delta`` (+1/-1) to the refcount of perceptual frame ``frames[i]`` of ``rows[i]``."""
        zero = frames == 0
        np.add.at(self.frame0, rows[zero], delta)
        for row, frame in zip(rows[~zero].tolist(), frames[~zero].tolist()):
            counts = self.frames.setdefault(row, {})
            counts[frame] = counts.get(frame, 0) + delta
            if counts[frame] <= 0:
                del counts[frame]
                if not counts:
                    del self.frames[row]

    def bank_total(self, row: int) -> int:
        """Distinct perceptual frames indexed for this content."""
        return int(self.frame0[row] > 0) + len(self.frames.get(row, ()))

    def frame_list(self, row: int) -> list[int]:
        """The distinct perceptual frame indexes of this content, ascending (time order)."""
        return [0] * int(self.frame0[row] > 0) + sorted(self.frames.get(row, ()))

    def metadata(self, rows: Sequence[int], resolver: Resolver | None) -> dict[int, Metadata]:
        """Row -> (name, pack, labels), from memory or one resolver call."""
        if resolver is None:
            if not self.keep_metadata:
                return {r: (None, None, ()) for r in rows}
            return {r: (self.names[r], self.packs[r], self.labels[r]) for r in rows}
        ids = [int(self.keys[r]) & MAX_CONTENT_ID for r in rows]
        found = resolver(sorted(set(ids))) if ids else {}
        return {r: tuple(found.get(i, (None, None, ()))) for r, i in zip(rows, ids)}

    # ------------------------------------------------------------- persistence

    def save(self, directory: Path) -> None:
        """Write columns as ``contents_*.npy`` and frames/metadata as JSON."""
        n = self.n
        write_arrays(directory, "contents", {
            "keys": self.keys[:n], "frame_count": self.frame_count[:n],
            "refs": self.refs[:n], "frame0": self.frame0[:n]},
            {"keep_metadata": self.keep_metadata,
             "frames": [[r, sorted(c.items())] for r, c in self.frames.items()],
             "names": self.names, "packs": self.packs,
             "labels": [list(x) for x in self.labels]})

    @classmethod
    def load(cls, directory: Path) -> ContentTable:
        """Read what :meth:`save` wrote (raises ValueError on a mismatch)."""
        arrays, meta = read_arrays(directory, "contents")
        self = cls(keep_metadata=bool(meta["keep_metadata"]))
        self.keys, self.frame_count = arrays["keys"], arrays["frame_count"]
        self.refs, self.frame0 = arrays["refs"], arrays["frame0"]
        self.n = len(self.keys)
        self.frames = {int(r): {int(f): int(c) for f, c in items} for r, items in meta["frames"]}
        self.names, self.packs = meta["names"], meta["packs"]
        self.labels = [tuple(x) for x in meta["labels"]]
        if self.keep_metadata and len(self.names) != self.n:
            raise ValueError(f"{directory}: {self.n} contents but {len(self.names)} names")
        self._sorted = bool(np.all(np.diff(self.keys) > 0))
        return self


def db_resolver(db: Any) -> Resolver:
    """Resolver reading ``bank_contents`` (name, pack, labels) for the given ids from
    ``db`` (a ``store.db.Database``), 500 ids per SELECT."""
    models = importlib.import_module("stickerguard.store.models")
    sa = importlib.import_module("sqlalchemy")
    table = models.BankContent

    def resolve(ids: Sequence[int]) -> dict[int, Metadata]:
        out: dict[int, Metadata] = {}
        ids = list(ids)
        with db.engine.connect() as conn:
            for lo in range(0, len(ids), 500):
                stmt = sa.select(table.id, table.name, table.pack, table.labels).where(
                    table.id.in_(ids[lo:lo + 500]))
                for cid, name, pack, labels in conn.execute(stmt):
                    out[int(cid)] = (name, pack, tuple(labels or ()))
        return out

    return resolve
