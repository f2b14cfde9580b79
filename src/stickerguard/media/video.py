"""Decode video stickers (WebM VP8/VP9 with alpha, MP4 H.264 ...) with PyAV (FFmpeg).

FFmpeg's native vp8/vp9 decoders drop the alpha plane that WebM stores in Matroska
BlockAdditional side data; the libvpx decoders read it. So for VP8/VP9 streams we decode
the demuxed packets with a separate ``av.CodecContext.create("libvpx-vp9" | "libvpx", "r")``
(the packets carry the side data), and every other codec with the stream's own decoder.
"""

from __future__ import annotations

from fractions import Fraction
from io import BytesIO

import av
from PIL import Image

from ..errors import DecodeError, UnsupportedMedia
from .limits import Limits, check_duration, check_frames, check_pixels, check_total_pixels
from .sampling import Spread, make_sampler
from .types import DecodedMedia, Frame

# Demuxer forced per sniffed format, so FFmpeg never probes other container formats.
DEMUXERS = {"webm": "matroska", "mp4": "mov"}
# Video codecs accepted (hostile input: keep FFmpeg's attack surface small).
ALLOWED_CODECS = {"vp8", "vp9", "av1", "h264", "hevc", "mpeg4"}
# Decoders that keep WebM alpha (BlockAdditional) for these codecs.
ALPHA_DECODERS = {"vp9": "libvpx-vp9", "vp8": "libvpx"}

_AV_ERRORS = (av.FFmpegError, ValueError, OSError, EOFError, MemoryError)


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words for ``exc`` (``strerror``, without errno and file name)."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _decoder_for(stream: av.video.stream.VideoStream) -> av.CodecContext:
    """Return the codec context to feed ``stream``'s packets to (libvpx for VP8/VP9)."""
    name = stream.codec_context.name
    if name in ALPHA_DECODERS and ALPHA_DECODERS[name] in av.codecs_available:
        ctx = av.CodecContext.create(ALPHA_DECODERS[name], "r")
        ctx.width = stream.codec_context.width
        ctx.height = stream.codec_context.height
        if stream.codec_context.extradata:
            ctx.extradata = stream.codec_context.extradata
        return ctx
    return stream.codec_context


def _rgba(frame: av.VideoFrame, width: int, height: int) -> Image.Image:
    """Convert a decoded frame to a ``width`` x ``height`` RGBA Pillow image (alpha 255 if none)."""
    return Image.fromarray(frame.to_ndarray(format="rgba", width=width, height=height))


def _decoded_frames(container: av.container.InputContainer, stream, decoder):
    """Yield decoded frames of ``stream`` in presentation order, flushing the decoder at the end."""
    flushed = False
    for packet in container.demux(stream):
        if packet.size == 0:
            flushed = True
        yield from decoder.decode(packet)
    if not flushed:
        yield from decoder.decode(None)


def _demuxed_duration_ms(data: bytes, fmt: str, limits: Limits, name: str) -> float:
    """Duration of the first video stream from its packets alone (no decoding), in ms:
    last presentation time plus that packet's duration (else 1 / average rate), minus the
    first. Used by spread sampling, which needs the duration before choosing frames."""
    with av.open(BytesIO(data), mode="r", format=DEMUXERS[fmt]) as container:
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 1000)
        rate = stream.average_rate or stream.guessed_rate
        default_ms = float(1000 / rate) if rate else 0.0
        first = last = None
        last_ms, count = default_ms, 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            count += 1
            check_frames(count, limits, name, at_least=True)
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            if last is None or packet.pts >= last:
                last = packet.pts
                last_ms = float(packet.duration * time_base * 1000) if packet.duration else default_ms
        if first is None:
            return count * default_ms
        return float((last - first) * time_base * 1000) + last_ms


def decode_video(
    data: bytes, fmt: str, *, name: str, limits: Limits, sample_interval_ms: float | None,
    spread: Spread | None = None,
) -> DecodedMedia:
    """Decode the first video stream of a WebM / MP4 file to RGBA frames.

    Timestamps are ``(pts - first pts) * time_base`` in ms; a frame lasts until the next
    frame's timestamp (the last one: its own duration, else 1 / average rate). Canvas size
    comes from the stream header and is checked against ``max_pixels`` before decoding;
    frames of another size are scaled to it. Every frame is decoded (inter-frame codecs
    need it) but only sampled ones are converted to RGBA. Audio is ignored; container
    rotation metadata is not applied. With ``spread``, the duration is read from the
    demuxed packets first (``_demuxed_duration_ms``) to place the sample times.

    Raises:
        UnsupportedMedia: no allowed video codec (see ALLOWED_CODECS).
        DecodeError: corrupt or truncated file, no video stream.
        LimitExceeded: max_pixels, max_frames, max_total_pixels, max_duration_ms.
    """
    try:
        container = av.open(BytesIO(data), mode="r", format=DEMUXERS[fmt])
    except _AV_ERRORS as exc:
        raise DecodeError(f"truncated or corrupt {fmt}: {_reason(exc)}", path=name) from exc
    frames: list[Frame] = []
    with container:
        if not container.streams.video:
            raise DecodeError(f"{fmt} file has no video stream", path=name)
        stream = container.streams.video[0]
        if stream.codec_context is None:  # found by fuzzing: an unknown CodecID has no decoder at all
            raise UnsupportedMedia(f"video stream in {fmt} has a codec FFmpeg does not know", path=name)
        codec = stream.codec_context.name
        if codec not in ALLOWED_CODECS:
            raise UnsupportedMedia(f"video codec {codec!r} in {fmt} is not supported", path=name)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise DecodeError(f"{fmt} video stream has no frame size ({width}x{height})", path=name)
        check_pixels(width, height, limits, name)
        if stream.frames:
            check_frames(stream.frames, limits, name)
            check_total_pixels(stream.frames * width * height, limits, name)
        if container.duration:
            check_duration(container.duration / 1000.0, limits, name)
        try:
            total_ms = _demuxed_duration_ms(data, fmt, limits, name) if spread is not None else None
        except _AV_ERRORS as exc:
            raise DecodeError(f"truncated or corrupt {fmt}: {_reason(exc)}", path=name) from exc
        sampler = make_sampler(sample_interval_ms, spread, total_ms, width * height)
        time_base = stream.time_base or Fraction(1, 1000)
        rate = stream.average_rate or stream.guessed_rate
        default_ms = float(1000 / rate) if rate else 0.0
        pending: tuple[int, float, av.VideoFrame] | None = None
        first_pts = None
        count = 0
        try:
            for vframe in _decoded_frames(container, stream, _decoder_for(stream)):
                check_pixels(vframe.width, vframe.height, limits, name)
                count += 1
                check_frames(count, limits, name, at_least=True)
                check_total_pixels(count * width * height, limits, name, at_least=True)
                if vframe.pts is None:
                    timestamp = (count - 1) * default_ms
                else:
                    first_pts = vframe.pts if first_pts is None else first_pts
                    timestamp = float((vframe.pts - first_pts) * time_base * 1000)
                check_duration(timestamp, limits, name)
                if pending is not None:
                    index, ts, prev = pending
                    duration = max(0.0, timestamp - ts)
                    if sampler.keep(index, ts, duration):
                        frames.append(Frame(_rgba(prev, width, height), index, ts, duration))
                pending = (count - 1, timestamp, vframe)
        except _AV_ERRORS as exc:
            raise DecodeError(f"truncated or corrupt {fmt}: {_reason(exc)}", path=name) from exc
    if pending is None:
        raise DecodeError(f"{fmt} video stream has no decodable frames", path=name)
    index, ts, last = pending
    duration = float(last.duration * time_base * 1000) if last.duration else default_ms
    total = ts + duration
    check_duration(total, limits, name)
    if sampler.keep(index, ts, duration):
        frames.append(Frame(_rgba(last, width, height), index, ts, duration))
    return DecodedMedia(
        format=fmt,
        width=width,
        height=height,
        animated=count > 1,
        frames=frames,
        frame_count=count,
        duration_ms=total,
    )
