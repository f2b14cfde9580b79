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

numba compiles the five kernels on first use (about 5 s; 15 s on a loaded 2-core box)
and caches the machine code next to this file (``cache=True``; later processes load it
in ~0.3 s). No ``fastmath``: no FMA contraction or reassociation.
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


def _downsample64(lum: np.ndarray) -> np.ndarray:
    """Two Jarosz passes (rows, columns) and decimation to 64x64, as pdqhash does.

    ``lum`` float32 (h, w) -> float32 (64, 64). The kernels are called from Python
    (a few microseconds each) so that numba compiles each once (nested njit calls are
    re-optimised inside every caller: 3x the cold compile time).
    """
    nr, nc = lum.shape
    w_rows = (nc + 127) // 128
    w_cols = (nr + 127) // 128
    a = np.empty_like(lum)
    b = np.empty_like(lum)
    _box_rows(lum, a, w_rows)
    _box_cols(a, b, w_cols)
    _box_rows(b, a, w_rows)
    rows = ((np.arange(64) + 0.5) * nr / 64).astype(np.int64)  # int((i + 0.5) * n / 64), as in C++
    cols = ((np.arange(64) + 0.5) * nc / 64).astype(np.int64)
    # The last column pass is only needed at the 64 decimated columns.
    sel = np.ascontiguousarray(a[:, cols])
    filt = np.empty_like(sel)
    _box_cols(sel, filt, w_cols)
    return np.ascontiguousarray(filt[rows])


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


_ODD = (np.arange(16) & 1).astype(bool)
_SIGN_ODD = np.where(_ODD, 1, -1).astype(np.float32)  # +1 at odd indices, -1 at even
_CHECKER = (np.add.outer(np.arange(16), np.arange(16)) & 1).astype(bool)


def _dihedral(b: np.ndarray) -> np.ndarray:
    """The 8 DCT-domain dihedral variants of ``b`` (16x16) in Meta's order (pdqhashing.cpp).

    Returns float32 (8, 16, 16): identity, rot90, rot180, rot270, flip_x, flip_y,
    flip_plus1, flip_minus1 (``dct16OriginalTo*``: sign flips and transposes).
    """
    rot180 = np.where(_CHECKER, -b, b)
    return np.stack([
        b,
        (b * _SIGN_ODD[None, :]).T,
        rot180,
        (b * _SIGN_ODD[:, None]).T,
        b * _SIGN_ODD[:, None],
        b * _SIGN_ODD[None, :],
        b.T,
        rot180.T,
    ])


def _hex(variants: np.ndarray) -> list[str]:
    """(k, 16, 16) DCT outputs -> k hashes: bit i*16+j set when above the median.

    The median is the 128th smallest of the 256 values (what Meta's Torben selection
    returns for n = 256); the 256-bit number is written big-endian, as pdqhash's hex.
    """
    flat = variants.reshape(len(variants), 256)
    median = np.partition(flat, 127, axis=1)[:, 127:128]
    bits = (flat > median)[:, ::-1]
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def _hash(img: np.ndarray, dihedral: bool) -> tuple[list[str], int]:
    lum = _luma(img, _LUT_R, _LUT_G, _LUT_B)
    if lum.shape == (64, 64) and not dihedral:
        a = lum  # pdqFloat256FromFloatLuma copies a 64x64 input unfiltered
    else:
        a = _downsample64(lum)
    b = _dct16(a, _DCT)
    return _hex(_dihedral(b) if dihedral else b[None]), int(_quality(a))


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
    hashes, quality = _hash(a, False)
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
    hashes, quality = _hash(a, True)
    return tuple(hashes), quality
