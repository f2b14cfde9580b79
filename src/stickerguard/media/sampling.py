"""Choose which animation frames to keep when sampling at a fixed interval."""

from __future__ import annotations

import math

# Tolerance (ms) for float timestamps such as i * 1000 / 60.
_EPS_MS = 1e-6


class FrameSampler:
    """Decide per frame whether it covers a sample time ``t = 0, interval, 2*interval, ...``.

    A frame shown during ``[timestamp_ms, timestamp_ms + duration_ms)`` is kept when that
    interval contains a sample time; frame 0 is always kept. With ``interval_ms=None``
    every frame is kept.

    Args:
        interval_ms: sample spacing in milliseconds (> 0), or None for no sampling.

    Raises:
        ValueError: ``interval_ms`` is not a positive finite number.
    """

    def __init__(self, interval_ms: float | None) -> None:
        if interval_ms is not None and not (math.isfinite(interval_ms) and interval_ms > 0):
            raise ValueError(f"sample_interval_ms must be a positive number of milliseconds, got {interval_ms!r}")
        self.interval_ms = interval_ms

    def keep(self, index: int, timestamp_ms: float, duration_ms: float) -> bool:
        """True when frame ``index`` (shown at ``timestamp_ms`` for ``duration_ms``) is kept."""
        if self.interval_ms is None or index == 0:
            return True
        step = self.interval_ms
        first_sample = math.ceil(timestamp_ms / step - _EPS_MS / step) * step
        return first_sample < timestamp_ms + duration_ms - _EPS_MS
