"""Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with
multi-index hashing", CVPR 2012) over 256-bit codes, held in flat numpy arrays.

The 256 bits are cut into ``m`` contiguous substrings (``widths``). Pigeonhole: if two
codes differ in at most ``r`` bits and substring ``t`` is probed with every key within
``f_t`` bit flips, with ``sum(f_t + 1) > r``, then at least one substring differs by at
most ``f_t`` bits, so every code within ``r`` bits is among the candidates: the search is
**exact** (no recall loss), candidates are then verified by their full distance.

Why not ``faiss.IndexBinaryMultiHash``: it keeps, per substring, a
``std::unordered_map<key, std::vector<int64>>`` (8-byte ids plus a hash node per
distinct key) and probes every substring with the same flip count. At 10 M codes that is
over the 1.5 GB budget (see docs/matching.md). Here each substring is one ``uint32``
permutation of positions sorted by key plus a dense ``uint32`` offsets array (counting
sort), 4 bytes per code per substring, and flips are allotted per substring.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from math import comb

import numpy as np

from .codes import popcount

CODE_BITS = 256
_CHUNK = 1 << 18  # rows per chunk when extracting keys at build time
_BLOCK = 1 << 20  # codes per block of a brute-force scan
_BLOCK_BITS = 14  # batch kernel: candidates verified in blocks of 2**14 codes (512 KB)
_KEY_BITS = 12  # batch kernel: probes ordered on their top 12 key bits
SORTED_MIN = 1
"""Queries from which :meth:`MultiIndexHash.search` uses the batch kernel: always (at
10 M hashes it takes 0.36 ms for one query where the one-pass kernel, kept as the
simpler reference that the tests compare with, takes 0.82; 0.25-0.30 ms of CPU per
query in batches)."""
_PROBE = 1.0  # cost of one probe relative to verifying one candidate (measured about even)


def _cost(width: int, nflip: int, n: int) -> float:
    """Work of probing one ``width``-bit substring with exactly ``nflip`` flipped bits:
    ``C(w, f)`` probes, each reading about ``n / 2**w`` candidates."""
    return comb(width, nflip) * (_PROBE + n / 2**width) if 0 <= nflip <= width else float("inf")


def plan_flips(widths: tuple[int, ...], radius: int, n: int = 1 << 20) -> tuple[int, ...]:
    """Flips per substring so that ``sum(f_t + 1) >= radius + 1`` (the exactness
    condition), at the least expected work for ``n`` random codes: each unit of the sum
    goes, greedily, to the substring where it adds the fewest probes plus candidates
    (increments grow with ``f``, so greedy is optimal). -1: substring not probed.
    """
    flips = [-1] * len(widths)
    for _ in range(radius + 1):
        t = min(range(len(widths)), key=lambda t: (_cost(widths[t], flips[t] + 1, n), t))
        flips[t] += 1
    return tuple(flips)


def _work(widths: tuple[int, ...], radius: int, n: int) -> float:
    flips = plan_flips(widths, radius, n)
    return sum(_cost(w, j, n) for w, f in zip(widths, flips) for j in range(f + 1))


@lru_cache(maxsize=64)
def plan_widths(n: int, radius: int = 31) -> tuple[int, ...]:
    """Substring widths (bits, summing to 256) for ``n`` codes searched at ``radius``.

    Among layouts of 8..16 substrings in two widths (12..24 bits), the one with the least
    expected work (probes plus candidates, :func:`plan_flips`) whose tables fit in
    ``max(64 n, 128 MB)`` bytes (``4 n`` per substring plus ``4 * 2**w`` of offsets;
    64 bytes per code keeps 10 M codes within the 1.5 GB goal). E.g. 10 M codes -> 8 substrings of 22 bits probed with 2 flips and 4 of 20
    bits with 1: about 5 600 candidates per query at 31 bits, against 9 100 for 12
    even substrings of 21-22 bits (8 of them with 2 flips) in the same memory.
    """
    budget = max(64 * n, 1 << 27)
    best: tuple[float, tuple[int, ...]] | None = None
    for m in range(8, 17):
        for k in range(1, m + 1):
            for hi in range(12, 25):
                rest = CODE_BITS - k * hi
                if k == m:
                    if rest:
                        continue
                    widths = (hi,) * m
                else:
                    lo, extra = divmod(rest, m - k)
                    if lo < 8 or lo + (extra > 0) > hi:
                        continue
                    widths = (hi,) * k + (lo + 1,) * extra + (lo,) * (m - k - extra)
                if 4 * m * n + 4 * sum(1 << w for w in widths) > budget:
                    continue
                work = _work(widths, radius, n)
                if best is None or (work, len(widths)) < (best[0], len(best[1])):
                    best = (work, widths)
    if best is None:  # pragma: no cover - the 16 x 16-bit layout always fits
        return (16,) * 16
    return best[1]


def _masks(width: int, nflip: int) -> np.ndarray:
    """Every ``width``-bit XOR mask with at most ``nflip`` bits set, int64, 0 first."""
    out = [0]
    for k in range(1, max(nflip, -1) + 1):
        out.extend(sum(1 << b for b in bits) for bits in combinations(range(width), k))
    return np.asarray(out, dtype=np.int64)


def _words(codes: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 -> (n, 4) native uint64, hex (big-endian) order: bit 0 = MSB of byte 0."""
    return np.ascontiguousarray(codes).view(">u8").astype(np.uint64)


def _keys(words: np.ndarray, start: int, width: int) -> np.ndarray:
    """Bits ``[start, start+width)`` of each code as integers (int64), from (n, 4) words."""
    i, off = divmod(start, 64)
    if off + width <= 64:
        out = (words[:, i] >> np.uint64(64 - off - width)) & np.uint64((1 << width) - 1)
    else:
        lo_bits = off + width - 64
        hi = words[:, i] & np.uint64((1 << (64 - off)) - 1)
        out = (hi << np.uint64(lo_bits)) | (words[:, i + 1] >> np.uint64(64 - lo_bits))
    return out.astype(np.int64)


class MultiIndexHash:
    """Read-only MIH tables over ``codes[:n]`` (positions 0..n-1).

    Args:
        codes: (n, 32) uint8 codes (hex order). Not copied: the caller keeps them and
            passes the same array (or a longer one with the same first n rows) to
            :meth:`search`.
        widths: substring widths in bits summing to 256 (default :func:`plan_widths`).

    Memory: ``4 * n * m`` bytes of permutations plus ``4 * sum(2**w)`` of offsets.
    """

    def __init__(self, codes: np.ndarray, widths: tuple[int, ...] | None = None) -> None:
        n = len(codes)
        if n >= 2**32:
            raise ValueError(f"too many codes for uint32 positions: {n}")
        self.n = n
        self.widths = tuple(widths or plan_widths(n))
        if sum(self.widths) != CODE_BITS:
            raise ValueError(f"substring widths must sum to 256 bits, saw {sum(self.widths)}")
        self.starts = tuple(int(s) for s in np.cumsum((0,) + self.widths[:-1]))
        m = len(self.widths)
        self.perm = np.empty((m, n), dtype=np.uint32)
        self._offsets = np.zeros(sum((1 << w) + 1 for w in self.widths), dtype=np.uint32)
        self.offsets: list[np.ndarray] = []  # views into _offsets, one per substring
        words = _words(codes[:n])  # (n, 4) uint64, freed after the build
        for t, (start, width) in enumerate(zip(self.starts, self.widths)):
            keys = np.empty(n, dtype=np.uint32)
            for lo in range(0, n, _CHUNK):
                keys[lo:lo + _CHUNK] = _keys(words[lo:lo + _CHUNK], start, width)
            counts = np.bincount(keys, minlength=1 << width)
            ob = sum((1 << w) + 1 for w in self.widths[:t])
            offsets = self._offsets[ob:ob + (1 << width) + 1]
            np.cumsum(counts, out=offsets[1:])
            self.offsets.append(offsets)
            self.perm[t] = np.argsort(keys, kind="stable")
            del keys, counts
        del words
        self._mask_cache: dict[tuple[int, int], np.ndarray] = {}
        self._plans: dict[int, tuple] = {}

    @classmethod
    def from_arrays(cls, perm: np.ndarray, offsets: list[np.ndarray],
                    widths: tuple[int, ...]) -> MultiIndexHash:
        """Rebuild from saved :attr:`perm` (m, n) uint32 and per-substring offsets."""
        self = cls.__new__(cls)
        self.n = int(perm.shape[1])
        self.widths = tuple(int(w) for w in widths)
        self.starts = tuple(int(s) for s in np.cumsum((0,) + self.widths[:-1]))
        if perm.shape[0] != len(self.widths) or len(offsets) != len(self.widths):
            raise ValueError(f"MIH arrays disagree: {perm.shape[0]} permutations, "
                             f"{len(offsets)} offset arrays, {len(self.widths)} widths")
        if any(len(o) != (1 << w) + 1 for o, w in zip(offsets, self.widths)):
            raise ValueError("MIH offsets do not match the substring widths")
        self.perm = perm
        self._offsets = np.concatenate(offsets).astype(np.uint32, copy=False)
        bounds = np.cumsum([0] + [(1 << w) + 1 for w in self.widths])
        self.offsets = [self._offsets[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        self._mask_cache = {}
        self._plans = {}
        return self

    def nbytes(self) -> int:
        """Bytes held by the tables (permutations + offsets)."""
        return int(self.perm.nbytes + self._offsets.nbytes)

    def expected_candidates(self, radius: int) -> float:
        """Expected candidates per query for uniformly random codes at ``radius`` bits."""
        flips = plan_flips(self.widths, radius, self.n)
        return float(sum(sum(comb(w, k) for k in range(f + 1)) * self.n / 2**w
                         for w, f in zip(self.widths, flips)))

    def _probe_masks(self, t: int, nflip: int) -> np.ndarray:
        key = (self.widths[t], nflip)
        if key not in self._mask_cache:
            self._mask_cache[key] = _masks(*key)
        return self._mask_cache[key]

    def _plan(self, radius: int) -> tuple:
        """Kernel arguments for ``radius``: layout, flips and XOR masks (cached)."""
        plan = self._plans.get(radius)
        if plan is None:
            flips = plan_flips(self.widths, radius, self.n)
            masks = [self._probe_masks(t, f) if f >= 0 else np.empty(0, np.int64)
                     for t, f in enumerate(flips)]
            as64 = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
            off_base = np.cumsum([0] + [(1 << w) + 1 for w in self.widths[:-1]])
            plan = (as64(off_base), as64(self.starts), as64(self.widths), as64(flips),
                    np.concatenate(masks).astype(np.uint64),
                    as64(np.cumsum([0] + [len(x) for x in masks])))
            self._plans[radius] = plan
        return plan

    def search(self, words: np.ndarray, queries: np.ndarray, radius: int,
               first_query: int = 0, *, batched: bool | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every code of the tables within ``radius`` bits of each query, once each.

        Args:
            words: (n, 4) uint64 native view of the codes the tables were built on
                (``codes.view(np.uint64)``).
            queries: (q, 32) uint8 codes. first_query: added to the query rows returned.
            radius: search radius in bits (inclusive); flips from :func:`plan_flips`.
            batched: use the batch kernel (candidates reordered for memory locality,
                ``mihkernel.search_sorted``); default: from :data:`SORTED_MIN` queries.

        Returns:
            ``(query row, position, distance in bits)`` int64 arrays, unordered. Exact:
            the pigeonhole condition holds for every radius (see the module docstring).
        """
        from . import mihkernel  # numba: compiled (or read from cache) on first use

        args = (_words(queries), words, self.perm, self._offsets, *self._plan(radius),
                int(radius), int(first_query))
        if batched is None:
            batched = len(queries) >= SORTED_MIN
        if batched:
            return mihkernel.search_sorted(*args, _BLOCK_BITS, _KEY_BITS)
        return mihkernel.search(*args)


def _distances(rows: np.ndarray) -> np.ndarray:
    bits = popcount(rows)
    return bits[:, 0].astype(np.int64) + bits[:, 1] + bits[:, 2] + bits[:, 3]


def scan(words: np.ndarray, queries: np.ndarray, r: int) -> tuple[np.ndarray, ...]:
    """Brute force: every (query row, position, distance) within ``r`` bits, in blocks."""
    found = [(np.empty(0, np.int64),) * 3]
    for qi, q in enumerate(queries.view(np.uint64)):
        for lo in range(0, len(words), _BLOCK):
            d = _distances(words[lo:lo + _BLOCK] ^ q)
            p = np.flatnonzero(d <= r)
            found.append((np.full(len(p), qi, dtype=np.int64), p + lo, d[p]))
    return tuple(np.concatenate(x) for x in zip(*found))
