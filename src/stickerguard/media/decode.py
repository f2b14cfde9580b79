"""Decode any supported media to composited RGBA frames."""
# OWNER: media helper.
from __future__ import annotations

from .limits import DEFAULT_LIMITS, Limits
from .types import DecodedMedia


def decode(
    data: bytes,
    *,
    name: str = "<bytes>",
    limits: Limits = DEFAULT_LIMITS,
    sample_interval_ms: float | None = None,
) -> DecodedMedia:  # pragma: no cover - stub
    raise NotImplementedError
