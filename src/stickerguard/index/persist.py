"""Saving index state: named numpy arrays (``.npy``, no pickle) plus one JSON document,
and an atomic directory swap so a crash never leaves a half-written index in place."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np


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
