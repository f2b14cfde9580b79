"""Decode still and animated raster images (WebP, PNG/APNG, JPEG, GIF, BMP) with Pillow.

Frames come back as full-canvas RGBA ``PIL.Image`` objects composited the way a viewer
shows them: Pillow's ``seek()`` already applies GIF disposal, APNG ``dispose_op`` /
``blend_op`` and WebP blending (libwebp's WebPAnimDecoder), so frames are read in order
and copied out after each seek.
"""

from __future__ import annotations

import os
import struct
import zlib
from io import BytesIO

import numpy as np
from PIL import ExifTags, Image, ImageOps

from ..errors import DecodeError, LimitExceeded, UnsupportedMedia
from .limits import Limits, check_duration, check_frames, check_pixels, check_total_pixels
from .sampling import FrameSampler, Spread
from .types import DecodedMedia, Frame

PILLOW_FORMATS = {"webp": "WEBP", "png": "PNG", "jpeg": "JPEG", "gif": "GIF", "bmp": "BMP"}

# Errors Pillow (and the codecs under it) raise on corrupt or truncated input.
# AssertionError: Pillow asserts on some corrupt GIF palettes (found by fuzz/fuzz_decode.py).
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error, zlib.error,
               AssertionError)

# Browsers (Firefox, Chromium) show animation frames with a delay of <= 10 ms for 100 ms;
# we do the same so that timestamps match what people see.
MIN_FRAME_DURATION_MS = 10.0
CLAMPED_FRAME_DURATION_MS = 100.0

#: Freed Pillow image blocks kept for reuse (Pillow's ``set_blocks_max``, the
#: ``PILLOW_BLOCKS_MAX`` knob; Pillow's default is 0). Why: each decoded frame and each
#: copy of it is a fresh ~1 MB allocation that the kernel must fault in page by page;
#: on this project's VM that cost more than libwebp's decode itself (512x512 WebP
#: decode 2.8 -> 0.85 ms CPU). At most this many blocks (each <= Pillow's 16 MB block
#: size, 1 MB for a 512x512 RGBA frame) stay allocated after images are freed.
#: Applied at import unless ``PILLOW_BLOCKS_MAX`` is set in the environment.
PILLOW_BLOCKS_MAX = 8

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
# Pillow "converts" LAB to RGBA by copying channels, which is wrong without an ICC transform.
_NEEDS_COLOUR_MANAGEMENT = {"LAB"}


class PixelImage(Image.Image):
    """A read-only RGBA ``PIL.Image`` sharing memory with a numpy array (see :func:`pixel_image`).

    ``np.asarray(image)`` returns that array (read-only, shape (h, w, 4), uint8) instead
    of Pillow's ``tobytes()`` copy (which copies every pixel twice: encoder, then join).
    Why: each decoded frame is read as an array by plain PDQ and by the canonical form;
    on a 512x512 sticker those copies cost about as much as the PDQ filter passes.
    Pillow copies a read-only core before any in-place change (``putalpha``, ``paste``,
    ...); once the core is no longer the one built on the array, this falls back to
    Pillow's own ``__array_interface__``, so the array is never stale.
    """

    _pixels: np.ndarray | None = None
    _pixels_core: object = None

    @property
    def __array_interface__(self):  # type: ignore[override]
        if self._pixels is not None and self.readonly and getattr(self, "_im", None) is self._pixels_core:
            return self._pixels.__array_interface__
        return super().__array_interface__


def pixel_image(pixels: np.ndarray) -> Image.Image:
    """Wrap a uint8 (h, w, 4) RGBA array as a :class:`PixelImage` without copying it.

    The image is read-only and shares memory with ``pixels`` (C-contiguous; made so
    with a copy if it is not): the caller must not write to ``pixels`` afterwards.
    Raises ValueError for another dtype or shape.
    """
    a = np.ascontiguousarray(pixels)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 4:
        raise ValueError(f"expected a uint8 (h, w, 4) RGBA array, got {a.dtype} {a.shape}")
    view = a.view()
    view.setflags(write=False)
    im = Image.frombuffer("RGBA", (a.shape[1], a.shape[0]), a, "raw", "RGBA", 0, 1)
    im.__class__ = PixelImage
    im._pixels = view  # type: ignore[attr-defined]
    im._pixels_core = im.im  # type: ignore[attr-defined]
    return im


def _frame_image(im: Image.Image, name: str) -> Image.Image:
    """The frame as an array-backed RGBA image owning its pixels (``im`` may be closed after)."""
    rgba = im if im.mode == "RGBA" else to_rgba(im, name=name)
    return pixel_image(np.asarray(rgba))


def to_rgba(im: Image.Image, *, name: str | None = None) -> Image.Image:
    """Return a new RGBA copy of ``im`` for every Pillow mode our formats produce.

    * ``1 L LA P PA RGB RGBA RGBX RGBa CMYK YCbCr HSV``: Pillow's own ``convert("RGBA")``
      (``P`` honours ``info["transparency"]``; ``RGBa`` is un-premultiplied).
    * ``I;16`` family (16-bit grey, e.g. 16-bit PNG): scaled to 8 bits by ``value >> 8``
      (Pillow's own conversion would clip everything above 255 to white).
    * ``I`` (32-bit int) and ``F`` (float): treated as 8-bit-range content and converted
      the way Pillow's ``convert("L")`` does: values clipped to 0..255 (``F`` truncated).

    Raises:
        UnsupportedMedia: a mode with no correct RGBA conversion (``LAB`` needs colour
            management; anything Pillow cannot convert).
    """
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES:
        grey = (np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(grey).convert("RGBA")
    if mode in ("I", "F"):
        return im.convert("L").convert("RGBA")
    if mode in _NEEDS_COLOUR_MANAGEMENT:
        raise UnsupportedMedia(f"pixel mode {mode} cannot be converted to RGBA", path=name)
    try:
        return im.convert("RGBA")
    except ValueError:
        pass
    try:
        return im.convert("RGB").convert("RGBA")
    except ValueError as exc:
        raise UnsupportedMedia(f"pixel mode {mode} cannot be converted to RGBA", path=name) from exc


def _corrupt(fmt: str, data: bytes, exc: BaseException, name: str) -> DecodeError:
    """Build the DecodeError for a Pillow failure, naming the defect where we can see it."""
    detail = str(exc)
    if isinstance(exc, Image.UnidentifiedImageError):
        detail = "cannot identify image file"  # Pillow's text embeds a memory address
    if fmt == "webp" and len(data) >= 8:
        declared = int.from_bytes(data[4:8], "little") + 8
        if declared > len(data):
            return DecodeError(
                f"truncated webp: RIFF header declares {declared} bytes, file has {len(data)} ({detail})",
                path=name,
            )
    return DecodeError(f"truncated or corrupt {fmt}: {detail or type(exc).__name__}", path=name)


def keep_pillow_blocks(count: int = PILLOW_BLOCKS_MAX) -> None:
    """Let Pillow keep up to ``count`` freed image blocks for reuse (see :data:`PILLOW_BLOCKS_MAX`).

    Never lowers a larger setting; does nothing when ``PILLOW_BLOCKS_MAX`` is in the
    environment (Pillow read it at import: the operator's choice wins).
    """
    if "PILLOW_BLOCKS_MAX" not in os.environ and Image.core.get_blocks_max() < count:
        Image.core.set_blocks_max(count)


keep_pillow_blocks()

# EXIF orientations ImageOps.exif_transpose turns (1 and unknown values are left as they are).
_TURNING_ORIENTATIONS = frozenset(range(2, 9))


def _exif_transposed(im: Image.Image) -> Image.Image:
    """Apply EXIF orientation with ``ImageOps.exif_transpose``; ignore unreadable/bad values.

    Returns ``im`` itself (not a copy: the caller copies to RGBA anyway) when there is
    nothing to turn: no EXIF, orientation 1 or a value exif_transpose does not know.
    """
    try:
        if im.getexif().get(ExifTags.Base.Orientation, 1) not in _TURNING_ORIENTATIONS:
            return im
        return ImageOps.exif_transpose(im)
    except (*_PIL_ERRORS, TypeError, AttributeError):
        return im


def webp_stored_durations(data: bytes, frame_count: int) -> list[float] | None:
    """Frame durations (ms) of an animated WebP read from its ANMF chunks, without decoding.

    WebP container (RIFF ``WEBP``): each ANMF chunk's payload holds X, Y, width-1 and
    height-1 (3 bytes each), then the 24-bit little-endian duration. Returns None when
    the container does not hold exactly ``frame_count`` well-formed ANMF chunks (the
    caller then reads the durations by decoding). Never reads past ``data``.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    pos, out = 12, []
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if data[pos:pos + 4] == b"ANMF":
            if size < 16 or pos + 24 > end:
                return None
            out.append(float(int.from_bytes(data[pos + 20:pos + 23], "little")))
            if len(out) > frame_count:
                return None
        pos += 8 + size + (size & 1)
    return out if len(out) == frame_count else None


def _timeline(im: Image.Image, frame_count: int, limits: Limits, name: str):
    """Seek and decode every frame of an animation in order, checking the limits; yields
    ``(index, timestamp_ms, duration_ms, stored_ms)`` with ``im`` positioned on that
    frame: timestamp and duration as a browser plays it (<= 10 ms shown for 100 ms), and
    the duration the file stores (0 or missing -> 100 ms)."""
    elapsed = 0.0
    decoded_pixels = 0
    for index in range(frame_count):
        im.seek(index)
        check_pixels(*im.size, limits, name)  # Pillow grows a GIF canvas for oversized frames
        decoded_pixels += im.size[0] * im.size[1]
        check_total_pixels(decoded_pixels, limits, name, at_least=True)
        im.load()  # WebP only reports the duration once the frame is decoded
        stored = float(im.info.get("duration") or 0.0)
        duration = CLAMPED_FRAME_DURATION_MS if stored <= MIN_FRAME_DURATION_MS else stored
        timestamp = elapsed
        elapsed += duration
        check_duration(elapsed, limits, name)
        yield index, timestamp, duration, stored if stored > 0 else CLAMPED_FRAME_DURATION_MS


def decode_pillow(
    data: bytes, fmt: str, *, name: str, limits: Limits, sample_interval_ms: float | None,
    spread: Spread | None = None,
) -> DecodedMedia:
    """Decode a Pillow-readable image to RGBA frames.

    Args:
        data: raw bytes already sniffed as ``fmt``.
        fmt: one of ``webp png jpeg gif bmp`` (Pillow is told to use only that plugin).
        name: file name for errors.
        limits: ``max_pixels`` is checked on the header size before pixels are loaded;
            ``max_frames`` and ``max_total_pixels`` on the declared frame count;
            ``max_duration_ms`` (and ``max_total_pixels`` again) as frames go.
        sample_interval_ms: keep only frames covering ``0, i, 2i, ...`` ms (all frames are
            still composited, in order).
        spread: keep the frames a :class:`~stickerguard.media.sampling.Spread` picks
            over the whole duration instead; the frame timeline is read in a first
            pass (every frame decoded, none copied), the kept frames in a second; an
            animated WebP's timeline is read from its ANMF chunks instead
            (:func:`webp_stored_durations`), so it is decoded once.
            Sample times are placed on the durations the file stores (0 -> 100 ms),
            not on the browser clamp above, so 8 ms frames are sampled like 17 ms ones.

    Returns:
        DecodedMedia. Still images: one frame, EXIF orientation applied, duration 0.
        Animations: durations in ms as stored, except <= 10 ms which becomes 100 ms
        (browser behaviour); EXIF orientation is not applied to animations.

    Raises:
        DecodeError: truncated or corrupt data ("truncated or corrupt <fmt>: <reason>").
        LimitExceeded: max_pixels (also Pillow's own decompression-bomb check),
            max_frames, max_total_pixels, max_duration_ms.
    """
    try:
        im = Image.open(BytesIO(data), formats=[PILLOW_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        raise LimitExceeded(f"Pillow decompression-bomb check: {exc}", path=name, field="max_pixels") from exc
    except _PIL_ERRORS as exc:
        raise _corrupt(fmt, data, exc, name) from exc
    with im:
        width, height = im.size
        check_pixels(width, height, limits, name)
        try:
            frame_count = int(getattr(im, "n_frames", 1))
            check_frames(frame_count, limits, name)
            if frame_count <= 1:
                im.load()
                still = _frame_image(_exif_transposed(im), name)  # a copy: im is closed below
                return DecodedMedia(
                    format=fmt,
                    width=still.width,
                    height=still.height,
                    animated=False,
                    frames=[Frame(image=still)],
                    frame_count=1,
                    duration_ms=0.0,
                )
            check_total_pixels(frame_count * width * height, limits, name)
            frames: list[Frame] = []
            elapsed = 0.0
            if spread is None:  # one pass: copy the sampled frames as they are decoded
                sampler = FrameSampler(sample_interval_ms)
                for index, timestamp, duration, _stored in _timeline(im, frame_count, limits, name):
                    elapsed = timestamp + duration
                    if sampler.keep(index, timestamp, duration):
                        frames.append(Frame(image=_frame_image(im, name), index=index, timestamp_ms=timestamp,
                                            duration_ms=duration))
            else:
                # sample on the stored timeline: a 60 fps animation played twice as fast
                # stores 8 ms frames, which a browser (and ``duration_ms``) shows for
                # 100 ms each; its content is still at the same fractions of the file
                stored = webp_stored_durations(data, frame_count) if fmt == "webp" else None
                if stored is not None:  # one pass: the container told the timeline
                    stored = [d if d > 0 else CLAMPED_FRAME_DURATION_MS for d in stored]
                    spans = _timeline(im, frame_count, limits, name)
                    copy_now = True
                else:  # two passes: the whole timeline first (limits checked there), then the kept frames
                    spans = list(_timeline(im, frame_count, limits, name))
                    stored = [s[3] for s in spans]
                    copy_now = False
                starts = np.cumsum([0.0] + stored).tolist()
                sampler = spread.sampler(starts[-1], width * height)
                for index, timestamp, duration, _stored in spans:
                    elapsed = timestamp + duration
                    if sampler.keep(index, starts[index], stored[index]):
                        if not copy_now:
                            im.seek(index)
                            im.load()
                        frames.append(Frame(image=_frame_image(im, name), index=index, timestamp_ms=timestamp,
                                            duration_ms=duration))
        except Image.DecompressionBombError as exc:
            raise LimitExceeded(f"Pillow decompression-bomb check: {exc}", path=name, field="max_pixels") from exc
        except _PIL_ERRORS as exc:
            raise _corrupt(fmt, data, exc, name) from exc
    return DecodedMedia(
        format=fmt,
        width=width,
        height=height,
        animated=True,
        frames=frames,
        frame_count=frame_count,
        duration_ms=elapsed,
    )
