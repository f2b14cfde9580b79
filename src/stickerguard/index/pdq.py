"""Incremental, persistent Hamming index over 256-bit PDQ hashes.

Layout (all numpy, positions 0..n-1 in insertion order):

* ``codes`` (n, 32) uint8, ``ids`` int64, ``payload`` int64 (opaque caller data, the
  matcher packs content row / frame / kind in it), ``alive`` bool (tombstones);
* positions ``[0, base)`` are searched through :class:`~.mih.MultiIndexHash` tables
  (exact multi-index hashing) once the index holds ``crossover`` hashes or more;
* positions ``[base, n)`` (the tail: everything below the crossover, and hashes added
  since the last :meth:`PDQIndex.compact`) through ``faiss.IndexBinaryFlat``.

An added hash is searchable as soon as :meth:`PDQIndex.add` returns; a removed one is
tombstoned and skipped at once. :meth:`PDQIndex.compact` drops tombstones and moves the
tail into the MIH tables; ``add``/``remove`` call it when the tail exceeds
``max(crossover, base // 8)`` or tombstones exceed a quarter of the index
(:meth:`PDQIndex.maybe_compact`).
Search results are exact at every radius (see ``mih.py``; tests compare with brute force).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from .codes import (PDQ_BITS, PDQ_BYTES, THREADS, SearchHits, flat_search, grow, pdq_hex_to_array,
                    pool)
from .mih import MultiIndexHash, scan
from .persist import load_pdq, save_pdq

DEFAULT_CROSSOVER = 100_000
"""Hashes from which MIH beats faiss' flat scan for one query (measured, docs/matching.md)."""
_FORMAT = 1
_THREAD_MIN = 32  # queries per thread below which a batch is not split
_CHUNK = 1024  # queries per MIH kernel call at most (work arrays: ~150 MB at 10 M)


def _ids_array(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).reshape(-1)
    if arr.size and arr.min() < 0:
        raise ValueError(f"ids must be >= 0, saw {int(arr.min())}")
    return arr


def _steps(m: int) -> list[tuple[int, int]]:
    """Split ``m`` queries into ``[lo, hi)`` chunks: one per search thread (so both
    cores work on a batch), at most :data:`_CHUNK` queries each; one chunk below
    :data:`_THREAD_MIN` queries per thread (a file's 16 dihedral queries stay in the
    calling thread)."""
    threads = THREADS
    parts = 1 if m < _THREAD_MIN * threads else max(threads, -(-m // _CHUNK))
    bounds = np.linspace(0, m, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class PDQIndex:
    """Exact Hamming-radius index over 256-bit PDQ hashes with caller ids and payloads.

    Args:
        crossover: index size (hashes) from which :meth:`compact` builds MIH tables;
            below it everything is a flat scan. Default :data:`DEFAULT_CROSSOVER`.

    Not safe for concurrent mutation and search: callers serialise ``add``/``remove``/
    ``compact`` against searches (the matcher does, with a lock).
    """

    def __init__(self, *, crossover: int = DEFAULT_CROSSOVER) -> None:
        if crossover < 1:
            raise ValueError(f"crossover must be >= 1 hash, saw {crossover}")
        self.crossover = int(crossover)
        self._codes = np.empty((0, PDQ_BYTES), dtype=np.uint8)
        self._ids = np.empty(0, dtype=np.int64)
        self._payload = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._n = self._base = self._dead = 0
        self._sorted = True  # ids[:n] non-decreasing: id lookup by searchsorted
        self._order: np.ndarray | None = None  # argsort of ids when not sorted
        self._mih: MultiIndexHash | None = None
        self._generation = 0  # bumped when a compaction moves rows (see install_tables)
        self._flat = faiss.IndexBinaryFlat(PDQ_BITS)

    # ------------------------------------------------------------- bookkeeping

    def __len__(self) -> int:
        """Number of live hashes held."""
        return self._n - self._dead

    @property
    def structure(self) -> str:
        """``"flat"`` or ``"mih+flat"`` (MIH tables over the base, flat tail)."""
        return "flat" if self._mih is None else "mih+flat"

    @property
    def base(self) -> int:
        """Hashes covered by the MIH tables (0 in the flat structure)."""
        return self._base

    @property
    def tail(self) -> int:
        """Hashes searched by the flat scan (all of them below the crossover)."""
        return self._n - self._base

    def sync(self) -> None:
        """Bring the faiss flat tail up to date now (else the next search does it)."""
        self._sync_flat()

    def ids(self) -> np.ndarray:
        """Live ids, ``int64`` array of shape ``(len(self),)``, in insertion order."""
        return self._ids[:self._n][self._alive[:self._n]].copy()

    def nbytes(self) -> int:
        """Approximate bytes held by the arrays, MIH tables and the faiss tail."""
        tables = self._mih.nbytes() if self._mih is not None else 0
        cap = len(self._ids)
        return int(cap * (PDQ_BYTES + 8 + 8 + 1) + tables + self._flat.ntotal * PDQ_BYTES)

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Live position of each id, -1 where not held (int64, same shape)."""
        n = self._n
        if not n or not ids.size:
            return np.full(ids.shape, -1, dtype=np.int64)
        if self._sorted:
            keys, order = self._ids[:n], None
        else:
            if self._order is None:
                self._order = np.argsort(self._ids[:n], kind="stable")
            order = self._order
            keys = self._ids[:n][order]
        lo = np.searchsorted(keys, ids, "left")
        hi = np.searchsorted(keys, ids, "right")
        out = np.full(ids.shape, -1, dtype=np.int64)
        for i in np.flatnonzero(hi > lo):  # only the ids held (dead copies possible)
            for j in range(lo[i], hi[i]):
                pos = j if order is None else int(order[j])
                if self._alive[pos]:
                    out[i] = pos
        return out

    def contains(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Bool array: is each id live in the index."""
        return self._positions(_ids_array(ids)) >= 0

    def payload_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Payload of each id (int64). Raises KeyError naming the first id not held."""
        arr = _ids_array(ids)
        pos = self._positions(arr)
        if (pos < 0).any():
            raise KeyError(f"id {int(arr[pos < 0][0])} is not in the index")
        return self._payload[pos]

    # ------------------------------------------------------------- mutation

    def add(self, ids: Sequence[int] | np.ndarray, hashes: Sequence[str] | np.ndarray,
            payload: Sequence[int] | np.ndarray | None = None, *, compact: bool = True) -> None:
        """Add ``hashes[i]`` under ``ids[i]``; searchable when this returns.

        Args:
            ids: n non-negative integer ids, unique and not already live in the index.
            hashes: n PDQ hashes, 64 hex chars each, or a (n, 32) uint8 array.
            payload: n int64 values returned with hits (default 0).
            compact: run :meth:`maybe_compact` afterwards (bulk loaders pass False and
                call it once at the end).

        Raises:
            ValueError: lengths differ, an id is negative, repeated or already present,
                or a hash is not 64 hex chars. Nothing is added then.
        """
        id_arr = _ids_array(ids)
        vectors = (np.ascontiguousarray(hashes, dtype=np.uint8) if isinstance(hashes, np.ndarray)
                   else pdq_hex_to_array(hashes) if len(hashes) else np.empty((0, PDQ_BYTES), np.uint8))
        if vectors.ndim != 2 or vectors.shape[1] != PDQ_BYTES or len(vectors) != len(id_arr):
            raise ValueError(f"{len(id_arr)} ids but {len(vectors)} hashes")
        pay = (np.zeros(len(id_arr), dtype=np.int64) if payload is None
               else np.asarray(payload, dtype=np.int64).reshape(-1))
        if len(pay) != len(id_arr):
            raise ValueError(f"{len(id_arr)} ids but {len(pay)} payloads")
        if not len(id_arr):
            return
        uniq, counts = np.unique(id_arr, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"id {int(uniq[counts > 1][0])} given more than once")
        present = id_arr[self._positions(id_arr) >= 0]
        if present.size:
            raise ValueError(f"id {int(present[0])} is already in the index")
        n, k = self._n, len(id_arr)
        self._codes = grow(self._codes, n + k)
        self._ids = grow(self._ids, n + k)
        self._payload = grow(self._payload, n + k)
        self._alive = grow(self._alive, n + k)
        self._codes[n:n + k] = vectors
        self._ids[n:n + k] = id_arr
        self._payload[n:n + k] = pay
        self._alive[n:n + k] = True
        if self._sorted and (np.any(np.diff(id_arr) < 0) or (n and id_arr[0] < self._ids[n - 1])):
            self._sorted = False
        self._order = None
        self._n = n + k
        if compact:
            self.maybe_compact()

    def needs_rebuild(self) -> bool:
        """The flat tail holds ``max(crossover, base // 8)`` hashes or more (and the index
        at least ``crossover``): MIH tables over everything would pay off."""
        tail = self._n - self._base
        return tail >= max(self.crossover, self._base // 8) and len(self) >= self.crossover

    def maybe_compact(self) -> bool:
        """Run :meth:`compact` if :meth:`needs_rebuild` or tombstones exceed a quarter of
        the index; else bring the faiss tail up to date. Returns True if it compacted."""
        if self.needs_rebuild() or self._dead > max(1024, self._n // 4):
            self.compact()
            return True
        self._sync_flat()
        return False

    def build_tables(self) -> tuple[MultiIndexHash, int, int]:
        """MIH tables over the hashes held now, without changing the index: safe to run in
        another thread while adds, removes and searches go on (rows ``[0, n)`` never
        change until a tombstone compaction). Returns ``(tables, n, generation)`` for
        :meth:`install_tables`."""
        generation, codes, n = self._generation, self._codes, self._n
        return MultiIndexHash(codes[:n]), n, generation

    def install_tables(self, tables: MultiIndexHash, n: int, generation: int) -> bool:
        """Make tables from :meth:`build_tables` the base; hashes added since stay in the
        flat tail. Returns False (nothing changed) if a compaction moved rows meanwhile.
        Callers serialise this with searches."""
        if generation != self._generation or n < self._base:
            return False
        self._mih, self._base = tables, n
        self._flat = faiss.IndexBinaryFlat(PDQ_BITS)
        self._sync_flat()
        return True

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Tombstone the hashes with these ids (unknown ids are ignored); returns how many.

        A removed hash is never returned again. Compacts when tombstones exceed a quarter
        (1 024 at least).
        """
        id_arr = _ids_array(ids)
        pos = self._positions(np.unique(id_arr))
        pos = pos[pos >= 0]
        self._alive[pos] = False
        self._dead += len(pos)
        if self._dead > max(1024, self._n // 4):
            self.compact()
        return int(len(pos))

    def compact(self) -> None:
        """Drop tombstones and rebuild: MIH tables over all live hashes when there are at
        least ``crossover`` of them (else one flat scan). O(n log n); 33-43 s at 10 M
        hashes on the reference machine (docs/bench/index.md)."""
        live = self._alive[:self._n]
        if self._dead:
            self._generation += 1
            keep = np.flatnonzero(live)
            self._codes = self._codes[keep]
            self._ids = self._ids[keep]
            self._payload = self._payload[keep]
            self._alive = np.ones(len(keep), dtype=bool)
            self._n, self._dead = len(keep), 0
            self._sorted = bool(np.all(np.diff(self._ids) >= 0))
            self._order = None
        codes = self._codes[:self._n]
        self._mih = None
        self._flat = faiss.IndexBinaryFlat(PDQ_BITS)
        if self._n >= self.crossover:
            self._mih = MultiIndexHash(codes)
            self._base = self._n
        else:
            self._base = 0
            self._sync_flat()

    def _sync_flat(self) -> None:
        """Copy tail codes not yet in the faiss flat index into it (done lazily, at the
        first search after adds, so bulk loads never copy codes into faiss)."""
        have = self._base + int(self._flat.ntotal)
        if have < self._n:
            self._flat.add(self._codes[have:self._n])

    # ------------------------------------------------------------- search

    def search(self, queries: np.ndarray, threshold: int) -> SearchHits:
        """Every live hash within ``threshold`` bits (inclusive) of each query.

        Args:
            queries: (m, 32) uint8 codes (see :func:`pdq_hex_to_array`).
            threshold: Hamming radius in bits, 0..256.

        Returns:
            :class:`SearchHits` sorted by (query, distance, id). Exact: the same set as
            a brute-force scan.

        Raises:
            ValueError: threshold outside 0..256 or not an int; queries not (m, 32).
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
            raise ValueError(f"threshold must be an int number of bits, saw {threshold!r}")
        if not 0 <= threshold <= PDQ_BITS:
            raise ValueError(f"threshold must be 0..256 bits, saw {threshold}")
        queries = np.ascontiguousarray(queries, dtype=np.uint8)
        if queries.ndim != 2 or queries.shape[1] != PDQ_BYTES:
            raise ValueError(f"queries must have shape (m, 32), saw {queries.shape}")
        r = int(threshold)
        self._sync_flat()
        parts_q, parts_p, parts_d = [], [], []
        if self._flat.ntotal and len(queries):
            lims, dist, labels = flat_search(self._flat, queries, r + 1)
            parts_q.append(np.repeat(np.arange(len(queries)), np.diff(lims).astype(np.int64)))
            parts_p.append(labels.astype(np.int64) + self._base)
            parts_d.append(dist.astype(np.int64))
        if self._mih is not None and len(queries):
            brute = self._mih.expected_candidates(r) > self._base / 4
            steps = _steps(len(queries))
            step = lambda lo_hi: self._verify(queries[lo_hi[0]:lo_hi[1]], r, brute, lo_hi[0])  # noqa: E731
            # the kernels release the GIL: chunks of a batch run on every core
            results = pool().map(step, steps) if len(steps) > 1 else map(step, steps)
            for q, p, d in results:
                parts_q.append(q)
                parts_p.append(p)
                parts_d.append(d)
        if not parts_q:
            e = np.empty(0, dtype=np.int64)
            return SearchHits(e, e, e, e, np.empty((0, PDQ_BYTES), np.uint8))
        qi, pos, dist = (np.concatenate(x) for x in (parts_q, parts_p, parts_d))
        keep = self._alive[pos]
        qi, pos, dist = qi[keep], pos[keep], dist[keep]
        ids = self._ids[pos]
        order = np.lexsort((ids, dist, qi))
        qi, pos, dist, ids = qi[order], pos[order], dist[order], ids[order]
        return SearchHits(qi, ids, dist, self._payload[pos], self._codes[pos])

    def _verify(self, queries: np.ndarray, r: int, brute: bool, first: int):
        """(query + ``first``, position, distance) of base codes within ``r`` bits: MIH
        candidates verified, or (``brute``) every base code scanned."""
        words = self._codes[:self._base].view(np.uint64)
        if brute:  # radius too large for MIH to pay off
            q, p, d = scan(words, queries, r)
            return q + first, p, d
        return self._mih.search(words, queries, r, first)

    def range_search(self, queries: Sequence[str], threshold: int) -> list[list[tuple[int, int]]]:
        """Find every held hash within ``threshold`` bits of each query.

        Args:
            queries: m PDQ hashes, 64 hex chars each.
            threshold: maximum Hamming distance in bits, inclusive, 0..256.

        Returns:
            m lists; list i holds ``(id, distance_bits)`` for every hash with
            ``distance <= threshold`` from ``queries[i]``, sorted by distance then id.

        Raises:
            ValueError: threshold outside 0..256 or a query is not 64 hex chars.
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
            raise ValueError(f"threshold must be an int number of bits, saw {threshold!r}")
        if not len(queries):
            if not 0 <= threshold <= PDQ_BITS:
                raise ValueError(f"threshold must be 0..256 bits, saw {threshold}")
            return []
        hits = self.search(pdq_hex_to_array(queries), threshold)
        out: list[list[tuple[int, int]]] = [[] for _ in queries]
        for q, ident, d in zip(hits.query.tolist(), hits.ids.tolist(), hits.dist.tolist()):
            out[q].append((ident, d))
        return out

    # ------------------------------------------------------------- persistence

    def save(self, path: str | Path) -> None:
        """Write the index into directory ``path`` (created): live rows and the MIH tables
        as ``.npy`` files plus ``pdq.json``; tombstones are dropped (compacted first)."""
        if self._dead:
            self.compact()
        n = self._n
        save_pdq(Path(path), self._codes[:n], self._ids[:n], self._payload[:n],
                 {"format": _FORMAT, "n": n, "base": self._base, "crossover": self.crossover}, self._mih)

    @classmethod
    def load(cls, path: str | Path) -> PDQIndex:
        """Read an index written by :meth:`save` (no rebuild: MIH tables are read back).

        Raises:
            ValueError: ``pdq.json`` is missing, of another format, or disagrees with the
                arrays (the message names the file and the values seen).
        """
        codes, ids, payload, meta, mih = load_pdq(Path(path), _FORMAT)
        self = cls(crossover=int(meta["crossover"]))
        self._codes, self._ids, self._payload = codes, ids, payload
        self._alive = np.ones(len(ids), dtype=bool)
        self._n, self._base, self._mih = len(ids), int(meta["base"]), mih
        self._sorted = bool(np.all(np.diff(ids) >= 0))
        self._sync_flat()
        return self
