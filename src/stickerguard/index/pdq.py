"""Faiss binary index over 256-bit PDQ hashes, searched by Hamming radius.

After Meta's ThreatExchange ``PDQFlatIndex`` (python-threatexchange), which also wraps
``faiss.IndexBinaryFlat`` in an ID map. The interface is kept small
(``add``/``remove``/``range_search``/``save``/``load``/``len``) so that the flat
index can later be swapped for multi-index hashing at ~10 M hashes without
touching callers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

PDQ_BITS = 256
"""Length of a PDQ hash in bits."""
PDQ_BYTES = PDQ_BITS // 8
"""Length of a PDQ hash in bytes (32); 64 hex chars."""


def pdq_hex_to_array(hashes: Sequence[str]) -> np.ndarray:
    """Pack hex PDQ hashes into a faiss binary matrix.

    Args:
        hashes: n PDQ hashes, each 64 hex chars (case-insensitive).

    Returns:
        ``uint8`` array of shape ``(n, 32)``; row i is ``bytes.fromhex(hashes[i])``,
        i.e. the first hex pair is byte 0 (the same bit order for every hash, so
        Hamming distances equal :func:`stickerguard.signals.hamming`).

    Raises:
        ValueError: a hash is not 64 hex chars; the message gives its position and value.
    """
    out = np.empty((len(hashes), PDQ_BYTES), dtype=np.uint8)
    for i, h in enumerate(hashes):
        try:
            raw = bytes.fromhex(h)
        except (ValueError, TypeError):
            raw = b""
        if len(raw) != PDQ_BYTES:
            raise ValueError(f"hash {i} is not a 64-hex-digit PDQ hash: {h!r}")
        out[i] = np.frombuffer(raw, dtype=np.uint8)
    return out


def _ids_array(ids: Sequence[int]) -> np.ndarray:
    arr = np.asarray(list(ids), dtype=np.int64).reshape(-1)
    if arr.size and arr.min() < 0:
        raise ValueError(f"ids must be >= 0, saw {int(arr.min())}")
    return arr


class PDQIndex:
    """Exhaustive (flat) Hamming index over 256-bit PDQ hashes with caller-chosen ids.

    Backed by ``faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(256))``: ids are the
    caller's (stickerguard uses bank signal ids), ``remove`` works, and search cost is
    O(n) per query with SIMD popcount (about 1 ms per query per million hashes).
    Distances are Hamming distances in bits, 0..256.
    """

    def __init__(self, _index: faiss.IndexBinaryIDMap2 | None = None) -> None:
        if _index is None:
            self._flat = faiss.IndexBinaryFlat(PDQ_BITS)
            _index = faiss.IndexBinaryIDMap2(self._flat)
        if _index.d != PDQ_BITS:
            raise ValueError(f"not a 256-bit PDQ index: dimension is {_index.d} bits")
        self._index = _index

    def __len__(self) -> int:
        """Number of hashes held."""
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """Every id held, ``int64`` array of shape ``(len(self),)``, in insertion order."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def add(self, ids: Sequence[int], hashes: Sequence[str]) -> None:
        """Add ``hashes[i]`` under ``ids[i]``.

        Args:
            ids: n non-negative integer ids, unique and not already in the index.
            hashes: n PDQ hashes, 64 hex chars each.

        Raises:
            ValueError: lengths differ, an id is negative, repeated or already present,
                or a hash is not 64 hex chars. Nothing is added then.
        """
        id_arr = _ids_array(ids)
        if len(id_arr) != len(hashes):
            raise ValueError(f"{len(id_arr)} ids but {len(hashes)} hashes")
        if not len(id_arr):
            return
        vectors = pdq_hex_to_array(hashes)
        uniq, counts = np.unique(id_arr, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"id {int(uniq[counts > 1][0])} given more than once")
        if len(self):
            present = id_arr[np.isin(id_arr, self.ids())]
            if present.size:
                raise ValueError(f"id {int(present[0])} is already in the index")
        self._index.add_with_ids(vectors, id_arr)

    def remove(self, ids: Sequence[int]) -> int:
        """Remove the hashes with these ids; unknown ids are ignored.

        Returns:
            how many hashes were removed.
        """
        id_arr = _ids_array(ids)
        if not id_arr.size or not len(self):
            return 0
        return int(self._index.remove_ids(id_arr))

    def range_search(self, queries: Sequence[str], threshold: int) -> list[list[tuple[int, int]]]:
        """Find every held hash within ``threshold`` bits of each query, in one faiss call.

        Args:
            queries: m PDQ hashes, 64 hex chars each.
            threshold: maximum Hamming distance in bits, inclusive, 0..256.

        Returns:
            m lists; list i holds ``(id, distance_bits)`` for every hash with
            ``distance <= threshold`` from ``queries[i]``, sorted by distance then id.

        Raises:
            ValueError: threshold outside 0..256 or a query is not 64 hex chars.

        faiss' binary ``range_search`` keeps distances strictly below its radius, so
        the radius passed is ``threshold + 1``.
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
            raise ValueError(f"threshold must be an int number of bits, saw {threshold!r}")
        if not 0 <= threshold <= PDQ_BITS:
            raise ValueError(f"threshold must be 0..256 bits, saw {threshold}")
        if not len(queries):
            return []
        vectors = pdq_hex_to_array(queries)
        if not len(self):
            return [[] for _ in queries]
        lims, dist, labels = self._index.range_search(vectors, int(threshold) + 1)
        out: list[list[tuple[int, int]]] = []
        for i in range(len(queries)):
            lo, hi = int(lims[i]), int(lims[i + 1])
            hits = sorted(zip(dist[lo:hi].astype(np.int64).tolist(), labels[lo:hi].tolist()))
            out.append([(ident, d) for d, ident in hits])
        return out

    def save(self, path: str | Path) -> None:
        """Write the index (hashes and ids) to ``path`` with ``faiss.write_index_binary``."""
        faiss.write_index_binary(self._index, str(path))

    @classmethod
    def load(cls, path: str | Path) -> PDQIndex:
        """Read an index written by :meth:`save`.

        Raises:
            ValueError: the file holds a binary index that is not 256-bit or has no id map.
            RuntimeError: faiss cannot read the file (missing or corrupt).
        """
        index = faiss.read_index_binary(str(path))
        if not isinstance(index, faiss.IndexBinaryIDMap2):
            raise ValueError(f"{path}: not a PDQIndex file (found {type(index).__name__})")
        return cls(index)
