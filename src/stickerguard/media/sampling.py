"""Choose which animation frames to keep: at a fixed interval, or spread over the duration.

Two samplers with one interface, ``keep(index, timestamp_ms, duration_ms) -> bool``:

* :class:`FrameSampler`: sample times ``0, interval, 2*interval, ...`` ms (absolute time).
* :class:`SpreadSampler`: ``n`` sample times at the midpoints of ``n`` equal slots of the
  whole duration, ``(i + 0.5) * duration / n``. Relative time: a copy played faster or
  slower, re-encoded with rounded frame durations (60 fps Lottie as 17 ms WebP frames)
  or with some frames dropped (their time given to the frame before) is sampled at the
  same points of its content. :class:`Spread` picks ``n`` from the duration; decoders
  that cannot know the duration before decoding look at the timeline first.

Both always keep frame 0 (the poster frame, and what a first-frame hasher such as HMA's
PDQ sees).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

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


class SpreadSampler:
    """Keep frame 0 and the frames covering ``(i + 0.5) * total_ms / count``, i < count.

    Args:
        total_ms: the animation's whole duration in ms (>= 0; 0 keeps frame 0 only).
        count: number of sample times (>= 1).
    """

    def __init__(self, total_ms: float, count: int) -> None:
        self.total_ms = max(0.0, float(total_ms))
        self.count = count
        self.times = [(i + 0.5) * self.total_ms / count for i in range(count)] if self.total_ms > 0 else []

    def keep(self, index: int, timestamp_ms: float, duration_ms: float) -> bool:
        """True when frame ``index`` (shown at ``timestamp_ms`` for ``duration_ms``) is kept."""
        if index == 0:
            return True
        i = bisect.bisect_left(self.times, timestamp_ms - _EPS_MS)
        return i < len(self.times) and self.times[i] < timestamp_ms + duration_ms - _EPS_MS


@dataclass(frozen=True)
class Spread:
    """How many spread samples an animation gets: ``clamp(ceil(total / spacing_ms), min_samples, max_samples)``,
    and no more than ``max_kept_pixels // (width * height)`` (at least 1).

    Default: 24 to 63 samples, one per 500 ms beyond 12 s. Every animation up to
    ``min_samples * spacing_ms`` (12 s: every WhatsApp, Telegram and Signal sticker) gets
    exactly ``min_samples``, so a copy played at another speed is sampled at the same
    points of its content; a longer video gets one sample per 500 ms, up to 63 (+ frame 0
    = 64 hashed frames, ``signals.hasher.MAX_FRAMES``).

    Memory: kept frames are held as RGBA until hashed, so their pixels are capped at
    ``max_kept_pixels`` (default 64 frames of 512 x 512 = 64 MB; a sticker canvas of up
    to 836 x 836 still gets all 24 samples, a 4096 x 4096 one 1). Without the cap, a
    hostile 2-second animation on a large canvas kept 24 full frames (the hostile
    corpus scan peaked at 1.03 GB instead of 0.64 GB).

    Raises:
        ValueError: a non-positive or inconsistent setting.
    """

    min_samples: int = 24
    max_samples: int = 63
    spacing_ms: float = 500.0
    max_kept_pixels: int = 64 * 512 * 512

    def __post_init__(self) -> None:
        if not (1 <= self.min_samples <= self.max_samples) or self.max_kept_pixels < 1 or not (
                math.isfinite(self.spacing_ms) and self.spacing_ms > 0):
            raise ValueError(f"Spread needs 1 <= min_samples <= max_samples and spacing_ms > 0, got {self!r}")

    def count(self, total_ms: float, frame_pixels: int = 0) -> int:
        """Sample count for an animation lasting ``total_ms`` milliseconds whose frames
        have ``frame_pixels`` pixels each (0: no memory cap)."""
        n = min(self.max_samples, max(self.min_samples, math.ceil(max(0.0, total_ms) / self.spacing_ms)))
        if frame_pixels > 0:
            n = min(n, max(1, self.max_kept_pixels // frame_pixels))
        return n

    def sampler(self, total_ms: float, frame_pixels: int = 0) -> SpreadSampler:
        """The :class:`SpreadSampler` for an animation lasting ``total_ms`` milliseconds
        (frames of ``frame_pixels`` pixels, see :meth:`count`)."""
        return SpreadSampler(total_ms, self.count(total_ms, frame_pixels))


def make_sampler(interval_ms: float | None, spread: Spread | None, total_ms: float | None,
                 frame_pixels: int = 0):
    """The sampler a decoder uses: spread (needs ``total_ms``) if given, else the interval one."""
    if spread is not None:
        assert total_ms is not None, "a spread sampler needs the duration"
        return spread.sampler(total_ms, frame_pixels)
    return FrameSampler(interval_ms)


def check_sampling(interval_ms: float | None, spread: Spread | None) -> None:
    """Validate a decoder's sampling arguments before any work.

    Raises:
        ValueError: both are given, ``spread`` is not a :class:`Spread`, or the interval
            is not a positive number.
    """
    if spread is not None:
        if interval_ms is not None:
            raise ValueError("give sample_interval_ms or spread, not both")
        if not isinstance(spread, Spread):
            raise ValueError(f"spread must be a media.Spread, got {type(spread).__name__}")
    FrameSampler(interval_ms)
