"""PDQ bit-identical to ``pdqhash`` (Meta's C++ via Cython), compiled with numba, ~6x faster.

Why: hashing a 512x512 sticker with ``pdqhash.compute_dihedral`` costs ~6.5 ms, of
which ~2.3 ms is the binding's float64 numpy luma, ~0.5 ms its Python bit unpacking
and most of the rest Meta's Jarosz box filter walking columns with a 2 KB stride.
This module computes the same float32 arithmetic, in the same order, with numba
kernels that read RGB or RGBA pixels directly (no ``convert("RGB")`` copy) and walk
memory in order. Measured per 512x512 frame: see docs/bench/hash.md.

Exactness (asserted in tests/test_signals.py on Meta's reference images, every frame
of tests/data and random images of many sizes, against ``pdqhash`` itself):

* luma: ``float32(R*0.299 + G*0.587 + B*0.114)`` summed in float64 left to right, as
  the binding's numpy expression does (table lookups of the exact float64 products);
* Jarosz tent filter: Meta's ``box1DFloat`` running sum (``sum += in[r]; sum -= in[l];
  out = sum / count`` in float32, 4 phases), rows then columns, 2 passes;
  window ``(old + 127) // 128``; decimation at ``int((i + 0.5) * n / 64)``;
* 64x64 input: ``compute`` copies it unfiltered, ``compute_dihedral`` filters it
  with window 1 (which is not exactly the identity in float32): both reproduced;
* DCT: ``T = D A``, ``B = T D^T`` with float32 sums in k order, ``D`` from float64
  cosines times ``float32(sqrt(2/64))``; median = the 128th smallest of the 256
  coefficients (Torben's selection for n = 256); bit k set when ``B.flat[k] > median``;
* quality: Meta's gradient sum ``int((u - v) * 100 / 255)`` in float32, / 90, <= 100;
* images under 5 px on a side: all-zero hash, quality 0.

numba compiles on first use (a few seconds) and caches the machine code next to this
file (``cache=True``); no ``fastmath``, so no FMA contraction or reassociation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Smallest side PDQ hashes (Meta's ``MIN_HASHABLE_DIM``); smaller -> zeros, quality 0.
MIN_HASHABLE_DIM = 5

# Exact float64 products of the binding's luma expression, indexed by channel value.
_LUT_R = np.arange(256, dtype=np.float64) * 0.299
_LUT_G = np.arange(256, dtype=np.float64) * 0.587
_LUT_B = np.arange(256, dtype=np.float64) * 0.114


def _dct_matrix() -> np.ndarray:
    """Meta's 16x64 DCT-II matrix as float32 (``dct_matrix_64`` in pdqhashing.cpp)."""
    scale = float(np.float32(np.sqrt(2.0 / 64.0)))
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return (scale * np.cos((np.pi / 2.0 / 64.0) * i * (2 * j + 1))).astype(np.float32)


_DCT = _dct_matrix()


@njit(cache=True, nogil=True)
def _luma(img, lut_r, lut_g, lut_b):  # pragma: no cover - compiled
    h, w = img.shape[0], img.shape[1]
    out = np.empty((h, w), np.float32)
    for i in range(h):
        for j in range(w):
            out[i, j] = np.float32(lut_r[img[i, j, 0]] + lut_g[img[i, j, 1]] + lut_b[img[i, j, 2]])
    return out


@njit(cache=True, nogil=True)
def _box_rows(x, out, w):  # pragma: no cover - compiled
    """Meta's box1DFloat along every row of ``x`` (n, m) into ``out``."""
    n, m = x.shape
    half = (w + 2) // 2
    for r in range(n):
        xr = x[r]
        orow = out[r]
        s = np.float32(0.0)
        cnt = 0
        ri = 0
        li = 0
        oi = 0
        for _ in range(half - 1):
            s += xr[ri]
            cnt += 1
            ri += 1
        for _ in range(w - half + 1):
            s += xr[ri]
            cnt += 1
            orow[oi] = s / np.float32(cnt)
            ri += 1
            oi += 1
        c = np.float32(cnt)
        for _ in range(m - w):
            s += xr[ri]
            s -= xr[li]
            orow[oi] = s / c
            ri += 1
            li += 1
            oi += 1
        for _ in range(half - 1):
            s -= xr[li]
            cnt -= 1
            orow[oi] = s / np.float32(cnt)
            li += 1
            oi += 1


@njit(cache=True, nogil=True)
def _box_cols(x, out, w):  # pragma: no cover - compiled
    """Meta's box1DFloat down every column of ``x`` (n, m), vectorised across columns."""
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
def _downsample64(lum):  # pragma: no cover - compiled
    """Two Jarosz passes (rows, columns) and decimation to 64x64, as pdqhash does."""
    nr, nc = lum.shape
    w_rows = (nc + 127) // 128
    w_cols = (nr + 127) // 128
    a = np.empty_like(lum)
    b = np.empty_like(lum)
    _box_rows(lum, a, w_rows)
    _box_cols(a, b, w_cols)
    _box_rows(b, a, w_rows)
    ri = np.empty(64, np.int64)
    ci = np.empty(64, np.int64)
    for k in range(64):
        ri[k] = int(((k + 0.5) * nr) / 64)
        ci[k] = int(((k + 0.5) * nc) / 64)
    # The last column pass is only needed at the 64 decimated columns.
    sel = np.empty((nr, 64), np.float32)
    for r in range(nr):
        for k in range(64):
            sel[r, k] = a[r, ci[k]]
    filt = np.empty_like(sel)
    _box_cols(sel, filt, w_cols)
    out = np.empty((64, 64), np.float32)
    for k in range(64):
        out[k, :] = filt[ri[k], :]
    return out


@njit(cache=True, nogil=True)
def _quality(a):  # pragma: no cover - compiled
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


@njit(cache=True, nogil=True)
def _dct16(a, d):  # pragma: no cover - compiled
    t = np.empty((16, 64), np.float32)
    for i in range(16):
        for j in range(64):
            acc = np.float32(0.0)
            for k in range(64):
                acc += d[i, k] * a[k, j]
            t[i, j] = acc
    out = np.empty((16, 16), np.float32)
    for i in range(16):
        for j in range(16):
            acc = np.float32(0.0)
            for k in range(64):
                acc += t[i, k] * d[j, k]
            out[i, j] = acc
    return out


@njit(cache=True, nogil=True)
def _bits(b, out):  # pragma: no cover - compiled
    """256 bits (coefficient > median) of a 16x16 DCT, big-endian bytes as pdqhash's hex."""
    flat = b.ravel()
    median = np.sort(flat)[127]
    for k in range(32):
        out[k] = 0
    for k in range(256):
        if flat[k] > median:
            out[31 - (k >> 3)] |= np.uint8(1 << (k & 7))


@njit(cache=True, nogil=True)
def _dihedral(b):  # pragma: no cover - compiled
    """The 8 DCT-domain dihedral variants of ``b`` in Meta's order (pdqhashing.cpp)."""
    out = np.empty((8, 16, 16), np.float32)
    for i in range(16):
        for j in range(16):
            v = b[i, j]
            out[0, i, j] = v
            out[1, j, i] = v if (j & 1) else -v
            out[2, i, j] = -v if ((i + j) & 1) else v
            out[3, j, i] = v if (i & 1) else -v
            out[4, i, j] = v if (i & 1) else -v
            out[5, i, j] = v if (j & 1) else -v
            out[6, j, i] = v
            out[7, j, i] = -v if ((i + j) & 1) else v
    return out


@njit(cache=True, nogil=True)
def _hash(img, lut_r, lut_g, lut_b, d, dihedral):  # pragma: no cover - compiled
    lum = _luma(img, lut_r, lut_g, lut_b)
    nr, nc = lum.shape
    if nr == 64 and nc == 64 and not dihedral:
        a = lum
    else:
        a = _downsample64(lum)
    quality = _quality(a)
    b = _dct16(a, d)
    if dihedral:
        variants = _dihedral(b)
    else:
        variants = np.empty((1, 16, 16), np.float32)
        variants[0] = b
    out = np.zeros((variants.shape[0], 32), np.uint8)
    for v in range(variants.shape[0]):
        _bits(variants[v], out[v])
    return out, quality


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
    out, quality = _hash(a, _LUT_R, _LUT_G, _LUT_B, _DCT, False)
    return out[0].tobytes().hex(), int(quality)


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
    out, quality = _hash(a, _LUT_R, _LUT_G, _LUT_B, _DCT, True)
    return tuple(row.tobytes().hex() for row in out), int(quality)
