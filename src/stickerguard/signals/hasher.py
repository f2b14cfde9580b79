"""Decode + hash every signal of one file."""
# OWNER: signals helper.
from __future__ import annotations

from pathlib import Path

from ..media import DEFAULT_LIMITS, Limits
from .types import MediaSignals


def hash_bytes(data: bytes, *, name: str = "<bytes>", limits: Limits = DEFAULT_LIMITS) -> MediaSignals:  # pragma: no cover
    raise NotImplementedError


def hash_file(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> MediaSignals:  # pragma: no cover
    raise NotImplementedError
