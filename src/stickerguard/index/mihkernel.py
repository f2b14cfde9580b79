"""Compiled multi-index hashing search: probe, verify and de-duplicate in one pass.

The numpy version of this (gather every candidate position into an array, ``take`` the
codes, ``bitwise_count``, ``np.unique``) spent its time building and sorting arrays of
about 9 000 candidates per query at 10 M hashes; here each candidate is read once and
checked where it is found. Hand-rolled on numba because faiss' only MIH structure
(``IndexBinaryMultiHash``) is over the memory budget (see ``mih.py``).

* **Probe**: for substring ``t`` every key within ``flips[t]`` bits of the query's key
  (XOR masks, 0 first) is looked up in the counting-sort tables (``offsets``, ``perm``).
* **Verify**: the candidate's full 256-bit distance (4 ``popcnt``), kept if ``<= r``.
* **De-duplicate without a set**: a code within ``r`` bits is found in every substring
  where it is within the flip budget; it is reported only from the *first* such
  substring (the others recompute that earlier substring's distance and skip it). This
  is exact and costs work only for hits, which are rare.

Kernels release the GIL (``nogil``): callers run chunks of a batch in threads.
numba compiles them on first use (a few seconds) and caches the machine code next to
this file (``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _popcnt(typingctx, x):  # pragma: no cover - compiled
    """LLVM ``ctpop`` on a uint64 (one ``popcnt`` instruction on x86-64)."""
    sig = types.uint64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def _bswap(x):  # pragma: no cover - compiled
    """Byte-swap a uint64 (native little-endian word -> hex-order word)."""
    out = np.uint64(0)
    for _ in range(8):
        out = (out << np.uint64(8)) | (x & np.uint64(0xFF))
        x = x >> np.uint64(8)
    return out


@njit(cache=True, nogil=True, inline="always")
def _key(row, start, width):  # pragma: no cover - compiled
    """Bits ``[start, start + width)`` of a code given as 4 hex-order uint64 words."""
    i = start >> 6
    off = start & 63
    mask = (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    if off + width <= 64:
        return (row[i] >> np.uint64(64 - off - width)) & mask
    lo = off + width - 64
    hi = row[i] & ((np.uint64(1) << np.uint64(64 - off)) - np.uint64(1))
    return (hi << np.uint64(lo)) | (row[i + 1] >> np.uint64(64 - lo))


@njit(cache=True, nogil=True, inline="always")
def _first(q, w, t, starts, widths, flips, xbe):  # pragma: no cover - compiled
    """Is substring ``t`` the first one where code ``w`` is within its flip budget of
    query ``q``? (Else an earlier substring already reported it.)"""
    for b in range(4):
        xbe[b] = _bswap(w[b]) ^ q[b]
    for t2 in range(t):
        if flips[t2] >= 0 and _popcnt(_key(xbe, starts[t2], widths[t2])) <= flips[t2]:
            return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _distance(w, qle):  # pragma: no cover - compiled
    return np.int64(_popcnt(w[0] ^ qle[0]) + _popcnt(w[1] ^ qle[1])
                    + _popcnt(w[2] ^ qle[2]) + _popcnt(w[3] ^ qle[3]))


@njit(cache=True, nogil=True)
def _native(qbe):  # pragma: no cover - compiled
    out = np.empty_like(qbe)
    for i in range(qbe.shape[0]):
        for j in range(4):
            out[i, j] = _bswap(qbe[i, j])
    return out


@njit(cache=True, nogil=True)
def search(qbe, words, perm, offsets, off_base, starts, widths, flips, masks, mask_base,
           r, first_query):  # pragma: no cover - compiled
    """Every (query, position, distance) within ``r`` bits, each pair once; candidates
    are verified where they are found (best for a few queries).

    Args:
        qbe: (q, 4) uint64 queries in hex (big-endian) word order.
        words: (n, 4) uint64 codes, native byte order (``codes.view(np.uint64)``).
        perm: (m, n) uint32 positions sorted by substring key.
        offsets: uint32, every substring's ``2**w + 1`` offsets end to end;
            ``off_base[t]`` is where substring t's start.
        starts, widths, flips: int64 (m,) substring layout and flip budgets (-1: skip).
        masks: uint64 XOR masks of every substring end to end, by ``mask_base`` (m + 1,).
        r: radius in bits (inclusive). first_query: added to the query rows returned.

    Returns:
        (query int64, position int64, distance int64) arrays of equal length.
    """
    qle_all = _native(qbe)
    xbe = np.empty(4, np.uint64)
    out_q, out_p, out_d = _buffers(256)
    k = 0
    for qi in range(qbe.shape[0]):
        q, qle = qbe[qi], qle_all[qi]
        for t in range(len(widths)):
            if flips[t] < 0:
                continue
            key = _key(q, starts[t], widths[t])
            obase = off_base[t]
            for mi in range(mask_base[t], mask_base[t + 1]):
                probe = np.int64(key ^ masks[mi])
                for j in range(np.int64(offsets[obase + probe]), np.int64(offsets[obase + probe + 1])):
                    p = np.int64(perm[t, j])
                    d = _distance(words[p], qle)
                    if d <= r and (t == 0 or _first(q, words[p], t, starts, widths, flips, xbe)):
                        if k == len(out_q):
                            out_q, out_p, out_d = _more(out_q, out_p, out_d)
                        out_q[k], out_p[k], out_d[k] = qi + first_query, p, d
                        k += 1
    return out_q[:k].copy(), out_p[:k].copy(), out_d[:k].copy()


_QBITS = 26  # query rows per sorted batch: < 2**26 (packed next to a 22-bit key)


@njit(cache=True, nogil=True)
def search_sorted(qbe, words, perm, offsets, off_base, starts, widths, flips, masks,
                  mask_base, r, first_query, shift, kbits):  # pragma: no cover - compiled
    """:func:`search` for a batch of queries (fewer than 2**26), reordered for memory
    locality: per substring, the probes of all queries are ordered by key (counting
    sort on the top ``kbits`` bits) so the offsets and ``perm`` are read in ascending
    order; the candidates are then ordered by position (blocks of ``2**shift`` codes)
    and verified block by block, so code reads stay in cache.

    Random reads are what the one-query kernel spends its time on (at 10 M hashes,
    measured 0.70 ms per query: 0.12 for ``perm``, 0.57 for the codes). The three
    passes are separate compiled functions: as one function they ran 1.7x slower
    (0.43 vs 0.25 ms of CPU per query at 10 M, measured). Same arguments and result as
    :func:`search`.
    """
    pos, tag, counts = _gather(qbe, words, perm, offsets, off_base, starts, widths, flips,
                               masks, mask_base, shift, kbits)
    spos, stag = _by_block(pos, tag, counts, shift)
    return _verify(qbe, words, spos, stag, starts, widths, flips, r, first_query)


@njit(cache=True, nogil=True)
def _gather(qbe, words, perm, offsets, off_base, starts, widths, flips, masks, mask_base,
            shift, kbits):  # pragma: no cover - compiled
    """Pass 1: every candidate ``pos`` with ``tag`` = query << 5 | substring, and the
    count of candidates per block of positions (``counts[b + 1]``)."""
    nq, m = qbe.shape[0], len(widths)
    total, most = 0, 0  # how many candidates (offsets only, cheap)
    for t in range(m):
        most = max(most, mask_base[t + 1] - mask_base[t])
        if flips[t] < 0:
            continue
        for qi in range(nq):
            key = _key(qbe[qi], starts[t], widths[t])
            for mi in range(mask_base[t], mask_base[t + 1]):
                probe = off_base[t] + np.int64(key ^ masks[mi])
                total += np.int64(offsets[probe + 1]) - np.int64(offsets[probe])
    pos = np.empty(total, np.uint32)
    tag = np.empty(total, np.uint32)
    counts = np.zeros((words.shape[0] >> shift) + 2, np.int64)
    probes = np.empty(nq * most, np.int64)  # key << 26 | query
    ordered = np.empty(nq * most, np.int64)
    kc = np.empty((1 << kbits) + 1, np.int64)
    c = 0
    for t in range(m):  # substring by substring, probes in key order
        if flips[t] < 0:
            continue
        drop = max(widths[t] - kbits, 0)
        kc[:] = 0
        k = 0
        for qi in range(nq):
            key = np.int64(_key(qbe[qi], starts[t], widths[t]))
            for mi in range(mask_base[t], mask_base[t + 1]):
                probe = key ^ np.int64(masks[mi])
                probes[k] = (probe << _QBITS) | qi
                kc[(probe >> drop) + 1] += 1
                k += 1
        for b in range(1 << kbits):
            kc[b + 1] += kc[b]
        for i in range(k):
            b = probes[i] >> (_QBITS + drop)
            ordered[kc[b]] = probes[i]
            kc[b] += 1
        for i in range(k):
            probe = off_base[t] + (ordered[i] >> _QBITS)
            qt = np.uint32(((ordered[i] & ((1 << _QBITS) - 1)) << 5) | t)
            for j in range(np.int64(offsets[probe]), np.int64(offsets[probe + 1])):
                p = perm[t, j]
                pos[c] = p
                tag[c] = qt
                counts[(p >> shift) + 1] += 1
                c += 1
    return pos, tag, counts


@njit(cache=True, nogil=True)
def _by_block(pos, tag, counts, shift):  # pragma: no cover - compiled
    """Pass 2: counting sort of (pos, tag) by block of positions."""
    for b in range(len(counts) - 1):
        counts[b + 1] += counts[b]
    spos = np.empty(len(pos), np.uint32)
    stag = np.empty(len(pos), np.uint32)
    for i in range(len(pos)):
        b = pos[i] >> shift
        at = counts[b]
        spos[at], stag[at] = pos[i], tag[i]
        counts[b] = at + 1
    return spos, stag


@njit(cache=True, nogil=True)
def _verify(qbe, words, spos, stag, starts, widths, flips, r, first_query):  # pragma: no cover
    """Pass 3: distances in block order (a loop without branches: 0.10 instead of 0.24 ms
    per query at 10 M, measured), then each hit once (first substring in budget)."""
    qle_all = _native(qbe)
    dist = np.empty(len(spos), np.int32)
    for i in range(len(spos)):  # no stores that depend on the result: LLVM vectorises it
        dist[i] = _distance(words[spos[i]], qle_all[stag[i] >> 5])
    xbe = np.empty(4, np.uint64)
    out_q, out_p, out_d = _buffers(256)
    k = 0
    for i in np.flatnonzero(dist <= r):
        p = np.int64(spos[i])
        qi, t, d = np.int64(stag[i] >> 5), np.int64(stag[i] & 31), np.int64(dist[i])
        if t == 0 or _first(qbe[qi], words[p], t, starts, widths, flips, xbe):
            if k == len(out_q):
                out_q, out_p, out_d = _more(out_q, out_p, out_d)
            out_q[k], out_p[k], out_d[k] = qi + first_query, p, d
            k += 1
    return out_q[:k].copy(), out_p[:k].copy(), out_d[:k].copy()


@njit(cache=True, nogil=True)
def _buffers(cap):  # pragma: no cover - compiled
    return np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64)


@njit(cache=True, nogil=True)
def _more(a, b, c):  # pragma: no cover - compiled
    return _grown(a, 2 * len(a)), _grown(b, 2 * len(b)), _grown(c, 2 * len(c))


@njit(cache=True, nogil=True)
def _grown(a, cap):  # pragma: no cover - compiled
    out = np.empty(cap, a.dtype)
    out[:len(a)] = a
    return out
