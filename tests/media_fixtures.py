"""Generated media fixtures for tests/test_media_decode.py (built in code, not committed binaries)."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zlib

import av
import numpy as np
from PIL import Image

RED = (255, 0, 0, 255)
GREEN = (0, 255, 0, 255)
BLUE_HALF = (0, 0, 255, 128)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _rgba_rows(pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in pixels)
    return zlib.compress(raw)


def apng_disposal() -> bytes:
    """A 4x1 RGBA APNG exercising dispose_op NONE/BACKGROUND/PREVIOUS and blend_op SOURCE/OVER.

    Frames (region, dispose_op, blend_op, pixels, delay):
      0: x0..3 NONE       SOURCE [R R R R]            100/1000 s
      1: x0..1 BACKGROUND OVER   [G, transparent]     5/100 s
      2: x3    PREVIOUS   SOURCE [blue a=128]          0/0 (0 ms)
      3: x2    NONE       OVER   [W]                   1/1000 s
    A viewer shows: [R R R R], [G R R R], [T T R b], [T T W R] (T = transparent black).
    """
    frames = [
        ((4, 0, 100, 1000, 0, 0), [[RED] * 4]),
        ((2, 0, 5, 100, 1, 1), [[GREEN, (0, 0, 255, 0)]]),
        ((1, 3, 0, 0, 2, 0), [[BLUE_HALF]]),
        ((1, 2, 1, 1000, 0, 1), [[WHITE]]),
    ]
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 1, 8, 6, 0, 0, 0))]
    out.append(_chunk(b"acTL", struct.pack(">II", len(frames), 0)))
    seq = 0
    for i, ((w, x, num, den, dispose, blend), pixels) in enumerate(frames):
        out.append(_chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, w, 1, x, 0, num, den, dispose, blend)))
        seq += 1
        data = _rgba_rows(pixels)
        if i == 0:
            out.append(_chunk(b"IDAT", data))
        else:
            out.append(_chunk(b"fdAT", struct.pack(">I", seq) + data))
            seq += 1
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def gif_two_frames(disposal: int, *, frame0_transparent: bool = True) -> bytes:
    """3x1 GIF: frame 0 [R R T] (or [R R R]; duration 0 ms), frame 1 [T G T] (20 ms).

    With ``disposal=2`` frame 0 is cleared before frame 1 is drawn; with 1 it stays.
    """
    f0 = Image.new("RGBA", (3, 1), RED)
    if frame0_transparent:
        f0.putpixel((2, 0), CLEAR)
    f1 = Image.new("RGBA", (3, 1), CLEAR)
    f1.putpixel((1, 0), GREEN)
    buf = io.BytesIO()
    f0.save(buf, "GIF", save_all=True, append_images=[f1], duration=[0, 20], disposal=disposal, loop=0)
    return buf.getvalue()


def webm_half_alpha(frames: int = 5, size: int = 64) -> bytes:
    """VP9 WebM (yuva420p, 10 fps) whose left half is transparent and right half opaque red."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuva420p"
        for i in range(frames):
            arr = np.zeros((size, size, 4), np.uint8)
            arr[:, :, 0] = 255
            arr[:, size // 2 :, 3] = 255
            frame = av.VideoFrame.from_ndarray(arr, format="rgba")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def mp4_h264(frames: int = 4, size: int = 32) -> bytes:
    """H.264 MP4 (yuv420p, 25 fps), frame i filled with grey level 40 + 50*i."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            arr = np.full((size, size, 3), 40 + 50 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def lottie_half_red(frames: int = 4, fps: int = 30, size: int = 8) -> dict:
    """Minimal Lottie: one red solid layer covering the canvas at 50 % opacity."""
    static = lambda v: {"a": 0, "k": v}  # noqa: E731
    return {
        "v": "5.5.2", "fr": fps, "ip": 0, "op": frames, "w": size, "h": size, "layers": [
            {"ty": 1, "ind": 1, "ip": 0, "op": frames, "st": 0, "sc": "#ff0000", "sw": size, "sh": size,
             "ks": {"o": static(50), "r": static(0), "p": static([0, 0, 0]), "a": static([0, 0, 0]),
                    "s": static([100, 100, 100])}},
        ],
    }


def tgs_bytes(doc: dict | bytes) -> bytes:
    """Gzip a Lottie dict (or raw bytes) the way .tgs files are stored."""
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return gzip.compress(raw)
