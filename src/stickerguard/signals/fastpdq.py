"""PDQ bit-identical to ``pdqhash`` (Meta's C++ via Cython), compiled with numba, ~15x faster.

Why hand-rolled: hashing a 512x512 sticker with ``pdqhash.compute_dihedral`` costs
~6.5 ms, of which ~2.3 ms is the binding's float64 numpy luma, ~0.5 ms its Python bit
unpacking and most of the rest Meta's Jarosz box filter, whose row passes are one long
chain of dependent float additions per row. This module computes the same float32
arithmetic, in the same order per output value, with numba kernels that read RGBA as
32-bit words (no ``convert("RGB")`` copy) and run each row pass on ``STRIP`` rows at
once (SIMD across rows). Measured per 512x512 frame: see docs/bench/hash.md.

Exactness (asserted in tests/test_signals.py on Meta's reference images, every frame
of tests/data and random images of many sizes, against ``pdqhash`` itself). Every
output value goes through exactly the float operations pdqhash performs, in the same
order; only the order in which *independent* values are computed differs:

* luma: ``float32(R*0.299 + G*0.587 + B*0.114)`` computed in float64 left to right,
  as the binding's numpy expression does (tested on all 2^24 colours);
* Jarosz tent filter: Meta's ``box1DFloat`` running sum (``sum += in[r]; sum -= in[l];
  out = sum / count`` in float32, 4 phases), rows then columns, 2 passes;
  window ``(old + 127) // 128``; decimation at ``int((i + 0.5) * n / 64)``. A row
  pass copies ``STRIP`` rows into a transposed scratch block and advances their
  ``STRIP`` independent running sums together; the last column pass runs only on the
  64 decimated columns (every row still goes through every addition);
* 64x64 input: ``compute`` copies it unfiltered, ``compute_dihedral`` filters it
  with window 1 (which is not exactly the identity in float32): both reproduced;
* DCT: ``T = D A``, ``B = T D^T`` with float32 sums in k order, ``D`` from float64
  cosines times ``float32(sqrt(2/64))``; median = the 128th smallest of the 256
  coefficients (Torben's selection for n = 256); bit k set when ``B.flat[k] > median``;
  dihedral variants that are transposes of one another hold the same 256 values, so
  only 4 medians are selected for the 8 variants;
* quality: Meta's gradient sum ``int((u - v) * 100 / 255)`` in float32, / 90, <= 100;
* images under 5 px on a side: all-zero hash, quality 0.

numba compiles the kernels on first use (a few seconds; more on a loaded 2-core box)
and caches the machine code next to this file (``cache=True``; later processes load it
in ~0.3 s). No ``fastmath``: no FMA contraction or reassociation.
"""

from __future__ import annotations

import functools
import sys
import threading

import numpy as np
from numba import njit

#: Smallest side PDQ hashes (Meta's ``MIN_HASHABLE_DIM``); smaller -> zeros, quality 0.
MIN_HASHABLE_DIM = 5
#: Rows filtered together in a row pass (4 AVX-512 / 8 AVX2 float32 vectors).
STRIP = 64
# Columns per block when transposing rows into the strip buffer (compile-time bound).
_TILE = 16


def _dct_matrix() -> np.ndarray:
    """Meta's 16x64 DCT-II matrix as float32 (``dct_matrix_64`` in pdqhashing.cpp)."""
    scale = float(np.float32(np.sqrt(2.0 / 64.0)))
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return (scale * np.cos((np.pi / 2.0 / 64.0) * i * (2 * j + 1))).astype(np.float32)


_DCT = _dct_matrix()
_DCT_T = np.ascontiguousarray(_DCT.T)


@njit(cache=True, nogil=True)
def _luma(img, out):  # pragma: no cover - compiled
    """float32 (h, w) luma of a uint8 (h, w, 3|4) array into ``out``, the binding's float64 formula."""
    h, w = img.shape[0], img.shape[1]
    for i in range(h):
        for j in range(w):
            out[i, j] = np.float32(np.float64(img[i, j, 0]) * 0.299 + np.float64(img[i, j, 1]) * 0.587
                                   + np.float64(img[i, j, 2]) * 0.114)


@njit(cache=True, nogil=True)
def _luma_words(px, out):  # pragma: no cover - compiled
    """Same luma from RGBA pixels viewed as little-endian uint32 words (h, w): vectorises."""
    h, w = px.shape
    for i in range(h):
        x = px[i]
        o = out[i]
        for j in range(w):
            v = x[j]
            o[j] = np.float32(np.float64(v & 0xFF) * 0.299 + np.float64((v >> 8) & 0xFF) * 0.587
                              + np.float64((v >> 16) & 0xFF) * 0.114)


@njit(nogil=True, inline="always")
def _load_strip(x, i0, buf):  # pragma: no cover - compiled
    """buf[j, k] = x[i0 + k, j] for the rows of this strip; returns how many rows."""
    n, m = x.shape
    bn = min(STRIP, n - i0)
    m16 = m - m % _TILE
    if bn == STRIP:
        for j0 in range(0, m16, _TILE):
            for k in range(STRIP):
                xr = x[i0 + k]
                for j in range(j0, j0 + _TILE):
                    buf[j, k] = xr[j]
        for j in range(m16, m):
            for k in range(STRIP):
                buf[j, k] = x[i0 + k, j]
    else:
        for k in range(bn):
            for j in range(m):
                buf[j, k] = x[i0 + k, j]
    return bn


@njit(nogil=True, inline="always")
def _store_strip(obuf, i0, bn, out):  # pragma: no cover - compiled
    """out[i0 + k, j] = obuf[j, k] for k < bn."""
    m = out.shape[1]
    m16 = m - m % _TILE
    if bn == STRIP:
        for j0 in range(0, m16, _TILE):
            for k in range(STRIP):
                orow = out[i0 + k]
                for j in range(j0, j0 + _TILE):
                    orow[j] = obuf[j, k]
        for j in range(m16, m):
            for k in range(STRIP):
                out[i0 + k, j] = obuf[j, k]
    else:
        for k in range(bn):
            for j in range(m):
                out[i0 + k, j] = obuf[j, k]


@njit(nogil=True, inline="always")
def _box_cols(x, out, w):  # pragma: no cover - compiled
    """Meta's box1DFloat down every column of ``x`` (n, m), vectorised across columns.

    Serves the row passes too: a transposed strip ``buf`` (m, STRIP) holds 64 image rows
    as columns (measured as fast as a copy specialised to the constant STRIP width)."""
    n, m = x.shape
    half = (w + 2) // 2
    s = np.zeros(m, np.float32)
    cnt = 0
    ri = 0
    li = 0
    oi = 0
    for _ in range(half - 1):
        for j in range(m):
            s[j] += x[ri, j]
        cnt += 1
        ri += 1
    for _ in range(w - half + 1):
        cnt += 1
        c = np.float32(cnt)
        for j in range(m):
            s[j] += x[ri, j]
            out[oi, j] = s[j] / c
        ri += 1
        oi += 1
    c = np.float32(cnt)
    for _ in range(n - w):
        for j in range(m):
            v = s[j] + x[ri, j]
            v = v - x[li, j]
            s[j] = v
            out[oi, j] = v / c
        ri += 1
        li += 1
        oi += 1
    for _ in range(half - 1):
        cnt -= 1
        c = np.float32(cnt)
        for j in range(m):
            s[j] -= x[li, j]
            out[oi, j] = s[j] / c
        li += 1
        oi += 1


@njit(cache=True, nogil=True)
def _downsample(lum, rows, cols, p1, buf, obuf, p3, p4):  # pragma: no cover - compiled
    """Two Jarosz passes (rows, columns) and 64x64 decimation, as pdqhash does.

    ``lum`` float32 (n, m) (overwritten: reused as scratch), ``rows``/``cols`` int64
    (64,) decimation indices -> float32 (64, 64). Scratch (contents ignored): ``p1``
    float32 (n, m), ``buf``/``obuf`` (m, STRIP), ``p3``/``p4`` (n, 64).
    """
    n, m = lum.shape
    w_rows = (m + 127) // 128
    w_cols = (n + 127) // 128
    for i0 in range(0, n, STRIP):
        bn = _load_strip(lum, i0, buf)
        _box_cols(buf, obuf, w_rows)  # buf (m, STRIP): 64 rows at once
        _store_strip(obuf, i0, bn, p1)
    p2 = lum
    _box_cols(p1, p2, w_cols)
    # second row pass, kept at the decimated columns only (p3)
    for i0 in range(0, n, STRIP):
        bn = _load_strip(p2, i0, buf)
        _box_cols(buf, obuf, w_rows)  # buf (m, STRIP): 64 rows at once
        for c in range(64):
            src = obuf[cols[c]]
            for k in range(bn):
                p3[i0 + k, c] = src[k]
    _box_cols(p3, p4, w_cols)
    a = np.empty((64, 64), np.float32)
    for r in range(64):
        for c in range(64):
            a[r, c] = p4[rows[r], c]
    return a


# Order in which _signals builds the 8 variants, and whose median each one shares.
_VARIANT_ORDER = np.array([0, 2, 4, 5, 1, 3, 6, 7], np.int64)
_MEDIAN_OF = np.array([0, 5, 2, 4, 4, 5, 0, 2], np.int64)


@njit(cache=True, nogil=True)
def _signals(a, d, dt, nvar, out):  # pragma: no cover - compiled
    """DCT, the first ``nvar`` dihedral variants' bits into ``out`` (nvar, 32), quality.

    ``a`` float32 (64, 64); ``d`` the (16, 64) DCT matrix, ``dt`` its transpose. Each
    DCT output is ``sum_k`` in k order from 0.0, as Meta's ``dct64To16``. ``out[v]``
    holds the 256-bit hash big-endian: bit 255 - q is set when coefficient q of the
    variant is above its median (the 128th smallest of 256). Returns the quality.
    """
    t = np.zeros((16, 64), np.float32)
    for i in range(16):
        ti = t[i]
        for k in range(64):
            dik = d[i, k]
            ak = a[k]
            for j in range(64):
                ti[j] += dik * ak[j]
    b = np.zeros((16, 16), np.float32)
    for i in range(16):
        bi = b[i]
        for k in range(64):
            tik = t[i, k]
            dk = dt[k]
            for j in range(16):
                bi[j] += tik * dk[j]
    flat = np.empty(256, np.float32)
    medians = np.empty(8, np.float32)
    for t_ in range(nvar):
        # Variants 6, 3, 1, 7 are transposes of 0, 4, 5, 2: same 256 values, same median.
        # So the 4 distinct medians are taken first (order 0 2 4 5 1 3 6 7) and reused.
        v = _VARIANT_ORDER[t_] if nvar == 8 else t_
        # Meta's dct16OriginalTo*: sign flips of odd rows/columns and transposes.
        for i in range(16):
            for j in range(16):
                if v == 0:
                    x = b[i, j]
                elif v == 1:
                    x = b[j, i] if i & 1 else -b[j, i]
                elif v == 2:
                    x = -b[i, j] if (i + j) & 1 else b[i, j]
                elif v == 3:
                    x = b[j, i] if j & 1 else -b[j, i]
                elif v == 4:
                    x = b[i, j] if i & 1 else -b[i, j]
                elif v == 5:
                    x = b[i, j] if j & 1 else -b[i, j]
                elif v == 6:
                    x = b[j, i]
                else:
                    x = -b[j, i] if (i + j) & 1 else b[j, i]
                flat[i * 16 + j] = x
        if t_ < 4:
            medians[v] = np.partition(flat, 127)[127]  # the 128th smallest of 256
        median = medians[_MEDIAN_OF[v]]
        for byte in range(32):
            acc = 0
            for p in range(8):
                if flat[255 - 8 * byte - p] > median:
                    acc |= 1 << (7 - p)
            out[v, byte] = acc
    total = 0
    f100 = np.float32(100.0)
    f255 = np.float32(255.0)
    for i in range(63):
        for j in range(64):
            total += abs(int(((a[i, j] - a[i + 1, j]) * f100) / f255))
    for i in range(64):
        for j in range(63):
            total += abs(int(((a[i, j] - a[i, j + 1]) * f100) / f255))
    return min(total // 90, 100)


@functools.lru_cache(maxsize=64)
def _decimation(n: int) -> np.ndarray:
    return ((np.arange(64) + 0.5) * n / 64).astype(np.int64)  # int((i + 0.5) * n / 64), as in C++


_local = threading.local()
_SCRATCH_SIZES = 3


def _scratch(h: int, w: int) -> tuple[np.ndarray, ...]:
    """This thread's float32 work arrays for an (h, w) image, reused while the size repeats.

    Why: fresh 1 MB arrays per frame cost more in page faults than the filter itself
    on this VM (a 512x512 frame: ~0.3 ms); one set per thread keeps kernels nogil-safe.
    Holds ~8 h w bytes (2 MB for 512x512) per size, for the last ``_SCRATCH_SIZES``
    sizes (a frame and its 64x64 canonical form alternate) per thread.
    """
    sets = getattr(_local, "scratch", None)
    if sets is None:
        sets = _local.scratch = {}
    cached = sets.pop((h, w), None)
    if cached is None:
        cached = (np.empty((h, w), np.float32), np.empty((h, w), np.float32),
                  np.zeros((w, STRIP), np.float32), np.zeros((w, STRIP), np.float32),
                  np.empty((h, 64), np.float32), np.empty((h, 64), np.float32))
        while len(sets) >= _SCRATCH_SIZES:
            del sets[next(iter(sets))]
    sets[(h, w)] = cached  # most recently used last
    return cached


def _hash(img: np.ndarray, nvar: int) -> tuple[list[str], int]:
    h, w = img.shape[0], img.shape[1]
    lum, p1, buf, obuf, p3, p4 = _scratch(h, w)
    if img.shape[2] == 4 and sys.byteorder == "little":  # R is the low byte of each word
        _luma_words(img.view(np.uint32).reshape(h, w), lum)
    else:
        _luma(img, lum)
    if (h, w) == (64, 64) and nvar == 1:
        a = lum  # pdqFloat256FromFloatLuma copies a 64x64 input unfiltered
    else:
        a = _downsample(lum, _decimation(h), _decimation(w), p1, buf, obuf, p3, p4)
    out = np.empty((nvar, 32), np.uint8)
    quality = _signals(a, _DCT, _DCT_T, nvar, out)
    text = out.tobytes().hex()
    return [text[64 * v: 64 * v + 64] for v in range(nvar)], int(quality)


def _pixels(array: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(array)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected a uint8 (h, w, 3|4) RGB/RGBA array, got {a.dtype} {a.shape}")
    return a


def pdq_hex(array: np.ndarray) -> tuple[str, int]:
    """PDQ of an RGB (or RGBA, alpha ignored) ``uint8`` array, equal to ``pdqhash.compute``.

    Args:
        array: shape (h, w, 3) or (h, w, 4), any strides. No resizing is done.
    Returns:
        (64 lowercase hex chars, quality 0..100); all zeros / 0 below 5 px a side.
    Raises:
        ValueError: wrong dtype or shape (message gives both).
    """
    a = _pixels(array)
    if a.shape[0] < MIN_HASHABLE_DIM or a.shape[1] < MIN_HASHABLE_DIM:
        return "0" * 64, 0
    hashes, quality = _hash(a, 1)
    return hashes[0], quality


def pdq_hex_dihedral(array: np.ndarray) -> tuple[tuple[str, ...], int]:
    """The 8 dihedral PDQs of an RGB/RGBA ``uint8`` array, equal to ``pdqhash.compute_dihedral``.

    Returns:
        (8 hashes of 64 hex chars in ``pdq.DIHEDRAL_NAMES`` order, quality 0..100).
    Raises:
        ValueError: wrong dtype or shape.
    """
    a = _pixels(array)
    if a.shape[0] < MIN_HASHABLE_DIM or a.shape[1] < MIN_HASHABLE_DIM:
        return ("0" * 64,) * 8, 0
    hashes, quality = _hash(a, 8)
    return tuple(hashes), quality
