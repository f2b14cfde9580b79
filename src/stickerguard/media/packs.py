"""Walk files, folders, archives and sticker packs, yielding stickers with provenance."""
# OWNER: packs helper.
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from .limits import DEFAULT_LIMITS, Limits
from .types import SourceError, Sticker


def iter_stickers(
    paths: Iterable[str | Path],
    *,
    limits: Limits = DEFAULT_LIMITS,
    signal_keys: dict[str, str] | None = None,
) -> Iterator[Sticker | SourceError]:  # pragma: no cover - stub
    raise NotImplementedError
    yield
