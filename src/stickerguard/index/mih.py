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

from itertools import combinations
from math import comb

import numpy as np

from .codes import popcount

CODE_BITS = 256
_CHUNK = 1 << 18  # rows per chunk when extracting keys at build time
_BLOCK = 1 << 20  # codes per block of a brute-force scan


def plan_widths(n: int) -> tuple[int, ...]:
    """Substring widths (bits) for ``n`` codes: about ``log2(n)`` bits each, 16..22.

    Returns widths summing to 256, e.g. 10 M codes -> 12 substrings (8 of 21, 4 of 22
    bits); 100 k -> 16 of 16 bits. Wider keys mean fewer candidates per probe but more
    probes and a larger dense offsets array (``2**w`` entries of 4 bytes per substring).
    """
    w = int(min(22, max(16, round(np.log2(max(n, 2))))))
    m = -(-CODE_BITS // w)
    base, extra = divmod(CODE_BITS, m)
    return tuple([base + 1] * extra + [base] * (m - extra))


def plan_flips(widths: tuple[int, ...], radius: int) -> tuple[int, ...]:
    """Flips per substring so that ``sum(f_t + 1) >= radius + 1`` (the exactness condition).

    Extra flips go to the narrowest substrings first (fewest probes).
    """
    m = len(widths)
    need = radius + 1
    base, extra = divmod(need, m)
    order = sorted(range(m), key=lambda t: widths[t])
    flips = [base - 1] * m
    for t in order[:extra]:
        flips[t] += 1
    return tuple(flips)


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
        self.offsets: list[np.ndarray] = []
        words = _words(codes[:n])  # (n, 4) uint64, freed after the build
        for t, (start, width) in enumerate(zip(self.starts, self.widths)):
            keys = np.empty(n, dtype=np.uint32)
            for lo in range(0, n, _CHUNK):
                keys[lo:lo + _CHUNK] = _keys(words[lo:lo + _CHUNK], start, width)
            counts = np.bincount(keys, minlength=1 << width)
            offsets = np.zeros((1 << width) + 1, dtype=np.uint32)
            np.cumsum(counts, out=offsets[1:])
            self.offsets.append(offsets)
            self.perm[t] = np.argsort(keys, kind="stable")
            del keys, counts
        del words
        self._mask_cache: dict[tuple[int, int], np.ndarray] = {}

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
        self.perm, self.offsets = perm, list(offsets)
        self._mask_cache = {}
        return self

    def nbytes(self) -> int:
        """Bytes held by the tables (permutations + offsets)."""
        return int(self.perm.nbytes + sum(o.nbytes for o in self.offsets))

    def expected_candidates(self, radius: int) -> float:
        """Expected candidates per query for uniformly random codes at ``radius`` bits."""
        flips = plan_flips(self.widths, radius)
        return float(sum(sum(comb(w, k) for k in range(f + 1)) * self.n / 2**w
                         for w, f in zip(self.widths, flips)))

    def _probe_masks(self, t: int, nflip: int) -> np.ndarray:
        key = (self.widths[t], nflip)
        if key not in self._mask_cache:
            self._mask_cache[key] = _masks(*key)
        return self._mask_cache[key]

    def candidates(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Every position sharing a substring within its flip budget with a query.

        Args:
            queries: (q, 32) uint8 codes.
            radius: search radius in bits (inclusive); flips from :func:`plan_flips`.

        Returns:
            ``(query_index int64, position int64)``, same length, unverified and with
            repeats (a code close to the query is found through several substrings).
        """
        qwords = _words(queries)
        flips = plan_flips(self.widths, radius)
        starts_all, lens_all, qidx_all = [], [], []
        n = self.n
        for t, (start, width, nflip) in enumerate(zip(self.starts, self.widths, flips)):
            if nflip < 0:
                continue
            probes = _keys(qwords, start, width)[:, None] ^ self._probe_masks(t, nflip)[None, :]
            offsets = self.offsets[t]
            lo = offsets[probes].astype(np.int64)
            hi = offsets[probes + 1].astype(np.int64)
            starts_all.append((lo + t * n).ravel())
            lens_all.append((hi - lo).ravel())
            qidx_all.append(np.repeat(np.arange(len(queries)), probes.shape[1]))
        if not starts_all:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        starts = np.concatenate(starts_all)
        lens = np.concatenate(lens_all)
        qidx = np.concatenate(qidx_all)
        keep = lens > 0
        starts, lens, qidx = starts[keep], lens[keep], qidx[keep]
        total = int(lens.sum())
        if not total:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        # ragged ranges [starts[i], starts[i] + lens[i]) -> one index array
        ends = np.cumsum(lens)
        flat = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lens), lens)
        pos = self.perm.reshape(-1)[flat].astype(np.int64)
        return np.repeat(qidx, lens), pos


def _distances(rows: np.ndarray) -> np.ndarray:
    bits = popcount(rows)
    return bits[:, 0].astype(np.int64) + bits[:, 1] + bits[:, 2] + bits[:, 3]


def verify(words: np.ndarray, queries: np.ndarray, cand_q: np.ndarray, cand_p: np.ndarray,
           r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the candidates within ``r`` bits, once each.

    Args:
        words: (n, 4) uint64 view of the codes; queries: (q, 32) uint8;
        cand_q, cand_p: candidate (query row, position) pairs, repeats allowed.

    Returns:
        (query row, position, distance in bits) int64 arrays, unique pairs.
    """
    rows = np.take(words, cand_p, axis=0)
    rows ^= np.take(queries.view(np.uint64), cand_q, axis=0)
    d = _distances(rows)
    keep = d <= r
    cand_q, cand_p, d = cand_q[keep], cand_p[keep], d[keep]
    if len(cand_p) > 1:  # one code found through several substrings
        _, first = np.unique(cand_q * len(words) + cand_p, return_index=True)
        cand_q, cand_p, d = cand_q[first], cand_p[first], d[first]
    return cand_q, cand_p, d


def scan(words: np.ndarray, queries: np.ndarray, r: int) -> tuple[np.ndarray, ...]:
    """Brute force: every (query row, position, distance) within ``r`` bits, in blocks."""
    found = [(np.empty(0, np.int64),) * 3]
    for qi, q in enumerate(queries.view(np.uint64)):
        for lo in range(0, len(words), _BLOCK):
            d = _distances(words[lo:lo + _BLOCK] ^ q)
            p = np.flatnonzero(d <= r)
            found.append((np.full(len(p), qi, dtype=np.int64), p + lo, d[p]))
    return tuple(np.concatenate(x) for x in zip(*found))
