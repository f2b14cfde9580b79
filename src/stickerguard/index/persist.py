"""Saving index state: named numpy arrays (``.npy``, no pickle) plus one JSON document,
and an atomic directory swap so a crash never leaves a half-written index in place."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .mih import MultiIndexHash


def write_arrays(directory: Path, prefix: str, arrays: dict[str, np.ndarray],
                 meta: dict[str, Any]) -> None:
    """Write ``<prefix>_<name>.npy`` for each array and ``<prefix>.json`` holding ``meta``
    plus the array names and shapes (checked by :func:`read_arrays`)."""
    directory.mkdir(parents=True, exist_ok=True)
    shapes = {}
    for name, arr in arrays.items():
        np.save(directory / f"{prefix}_{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        shapes[name] = list(arr.shape)
    (directory / f"{prefix}.json").write_text(json.dumps({"arrays": shapes, "meta": meta}))


def read_arrays(directory: Path, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read what :func:`write_arrays` wrote.

    Raises:
        ValueError: ``<prefix>.json`` is missing or an array's shape differs from the one
            recorded (the message names the file and both shapes).
    """
    doc_path = directory / f"{prefix}.json"
    if not doc_path.is_file():
        raise ValueError(f"{directory}: no {prefix}.json (not a saved index)")
    doc = json.loads(doc_path.read_text())
    arrays = {}
    for name, shape in doc["arrays"].items():
        path = directory / f"{prefix}_{name}.npy"
        arr = np.load(path, allow_pickle=False)
        if list(arr.shape) != list(shape):
            raise ValueError(f"{path}: shape {list(arr.shape)}, expected {shape}")
        arrays[name] = arr
    return arrays, doc["meta"]


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished directory ``tmp`` to ``final``, replacing an older one.

    The old directory is renamed aside first and removed last, so at every moment
    ``final`` is either the complete old index or the complete new one (or, between the
    two renames, absent: a loader then rebuilds from the database).
    """
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def save_pdq(d: Path, codes: np.ndarray, ids: np.ndarray, payload: np.ndarray,
             meta: dict[str, Any], mih: Any) -> None:
    """Write a ``PDQIndex``: ``pdq_{codes,ids,payload}.npy``, the MIH tables
    (``pdq_mih_perm.npy``, ``pdq_mih_offsets.npz``) when ``mih`` is given, ``pdq.json``."""
    d.mkdir(parents=True, exist_ok=True)
    for name, arr in (("codes", codes), ("ids", ids), ("payload", payload)):
        np.save(d / f"pdq_{name}.npy", arr, allow_pickle=False)
    meta = dict(meta, widths=list(mih.widths) if mih is not None else None)
    if mih is not None:
        np.save(d / "pdq_mih_perm.npy", mih.perm, allow_pickle=False)
        np.savez(d / "pdq_mih_offsets.npz", *mih.offsets)
    (d / "pdq.json").write_text(json.dumps(meta))


def load_pdq(d: Path, fmt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any], Any]:
    """Read what :func:`save_pdq` wrote: ``(codes, ids, payload, meta, MultiIndexHash or
    None)``. Raises ValueError (naming the file and the values seen) when ``pdq.json`` is
    missing, its format is not ``fmt`` or it disagrees with the arrays."""
    meta_path = d / "pdq.json"
    if not meta_path.is_file():
        raise ValueError(f"{d}: not a saved PDQIndex (no pdq.json)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != fmt:
        raise ValueError(f"{meta_path}: unsupported format {meta.get('format')!r}")
    codes, ids, payload = (np.load(d / f"pdq_{name}.npy", allow_pickle=False)
                           for name in ("codes", "ids", "payload"))
    n, base = int(meta["n"]), int(meta["base"])
    if codes.shape != (n, 32) or ids.shape != (n,) or payload.shape != (n,):
        raise ValueError(f"{meta_path}: n={n} but arrays have shapes {codes.shape}, "
                         f"{ids.shape}, {payload.shape}")
    mih = None
    if meta["widths"] is not None:
        perm = np.load(d / "pdq_mih_perm.npy", allow_pickle=False)
        with np.load(d / "pdq_mih_offsets.npz", allow_pickle=False) as z:
            offsets = [z[f"arr_{i}"] for i in range(len(meta["widths"]))]
        mih = MultiIndexHash.from_arrays(perm, offsets, tuple(meta["widths"]))
        if mih.n != base:
            raise ValueError(f"{meta_path}: MIH covers {mih.n} codes, base is {base}")
    return codes, ids, payload, meta, mih
