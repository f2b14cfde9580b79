"""Generate the hostile-input corpus (issue 5): malformed, truncated, bit-flipped, bomb and
polyglot files, each named for what it is. Nothing here is committed as a binary.

Run ``python tests/hostile/hostile_corpus.py OUT_DIR`` to write it; ``tests/hostile/
test_hostile.py`` writes it to a temporary folder and scans it. ``EXPECTED`` (in
``hostile_expected.py``) maps each result path (relative to OUT_DIR; archive members as
``archive!member``) to the outcome a scan must give: ``"ok"`` or an error code, with the
limit field after a colon where one applies (``"limit_exceeded:max_frames"``).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import sys
import zipfile
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from media_fixtures import apng_disposal, gif_two_frames, lottie_half_red, mp4_h264, webm_half_alpha  # noqa: E402

DATA = HERE.parent / "data"


def _zip(members: list[tuple[str, bytes]], *, level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _bmp() -> bytes:
    im = Image.new("RGB", (16, 16), (10, 120, 200))
    im.paste((250, 250, 0), (4, 4, 12, 12))
    buf = io.BytesIO()
    im.save(buf, "BMP")
    return buf.getvalue()


def seeds() -> dict[str, tuple[str, bytes]]:
    """Valid files of every format we read: ``{label: (extension, bytes)}``."""
    pack = DATA / "whatsapp-sample-packs"
    cuppy = (pack / "1/01_Cuppy_smile.webp").read_bytes()
    return {
        "webp-static": ("webp", cuppy),
        "webp-anim": ("webp", (pack / "2/08_AreYouOK.webp").read_bytes()),
        "png": ("png", (pack / "1/tray_Cuppy.png").read_bytes()),
        "apng": ("png", apng_disposal()),
        "gif": ("gif", gif_two_frames(1)),
        "jpeg": ("jpg", (DATA / "pdq-reference/bridge-mods/aaa-orig.jpg").read_bytes()),
        "bmp": ("bmp", _bmp()),
        "tgs": ("tgs", (DATA / "telegram-tgs/phone.tgs").read_bytes()),
        "webm": ("webm", webm_half_alpha(3, 64)),
        "mp4": ("mp4", mp4_h264(4, 32)),
        "wastickers": ("wastickers", _zip([("title.txt", b"Seed"), ("author.txt", b"stickerguard"),
                                           ("a.webp", cuppy)])),
    }


def truncation_offsets(n: int) -> list[int]:
    """Where each seed is cut: inside the magic, the first headers, middle and end."""
    return sorted({o for o in (2, 8, 16, 33, 100, n // 2, n * 9 // 10, n - 1) if 0 < o < n})


def flip_offsets(n: int) -> list[int]:
    """Which byte of each seed gets one bit flipped (headers and chunk bodies)."""
    return sorted({o for o in (12, 20, 28, 40, n // 3, n // 2) if o < n})


def _gif_frames(count: int, *, screen: int = 1, delay_cs: int = 0, loop: bool = True) -> bytes:
    """A GIF drawn by hand: ``count`` 1x1 frames with ``delay_cs`` (1/100 s) delay on a
    ``screen`` x ``screen`` canvas, NETSCAPE endless loop."""
    out = [b"GIF89a", struct.pack("<HHBBB", screen, screen, 0x80, 0, 0), b"\x00\x00\x00\xff\xff\xff"]
    if loop:
        out.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
    for i in range(count):
        out.append(b"\x21\xf9\x04\x00" + struct.pack("<H", delay_cs) + b"\x00\x00")
        out.append(b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0))
        out.append(b"\x02\x02" + (b"\x44\x01" if i % 2 else b"\x4c\x01") + b"\x00")
    out.append(b"\x3b")
    return b"".join(out)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _apng_declaring(frames: int) -> bytes:
    """A one-frame APNG whose acTL chunk declares ``frames`` frames."""
    data = bytearray(apng_disposal())
    at = data.index(b"acTL")
    data[at + 4:at + 8] = struct.pack(">I", frames)
    data[at + 12:at + 16] = struct.pack(">I", zlib.crc32(bytes(data[at:at + 12])))
    return bytes(data)


def _webp_vp8l_header(width: int, height: int) -> bytes:
    """A lossless WebP whose VP8L header claims ``width`` x ``height`` (max 16384)."""
    bits = (width - 1) | ((height - 1) << 14) | (1 << 28)
    body = b"\x2f" + struct.pack("<I", bits) + bytes(16)
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _jpeg_sof(width: int, height: int) -> bytes:
    """A JPEG whose SOF0 claims ``width`` x ``height`` (then nothing)."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 90, 90)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    at = data.index(b"\xff\xc0")
    data[at + 5:at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _webm_dims(data: bytes, new_video: bytes) -> bytes:
    """Replace the 12-byte Video element (PixelWidth, PixelHeight, AlphaMode) of a webm."""
    at = data.index(b"\xe0\x8a\xb0\x81")
    assert len(new_video) == 12
    return data[:at] + new_video + data[at + 12:]


def _vp9_frame_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the frame size in every VP9 keyframe header (after sync code 49 83 42 and
    4 bits of profile-0 colour config: 16-bit width-1, 16-bit height-1)."""
    out = bytearray(data)
    value = ((width - 1) << 16) | (height - 1)
    at = out.find(b"\x49\x83\x42")
    while at >= 0:
        start = (at + 3) * 8 + 4
        for i in range(32):
            byte, off = divmod(start + i, 8)
            mask = 1 << (7 - off)
            out[byte] = (out[byte] & ~mask) | (mask if (value >> (31 - i)) & 1 else 0)
        at = out.find(b"\x49\x83\x42", at + 3)
    return bytes(out)


def _jpeg_exif(orientation: int, *, entry: bytes | None = None) -> bytes:
    """A 32x16 JPEG with EXIF orientation ``orientation``; ``entry`` replaces the raw
    12-byte IFD entry (tag, type, count, value) to forge wrong types or offsets."""
    im = Image.new("RGB", (32, 16), (200, 40, 40))
    im.paste((20, 20, 200), (0, 0, 8, 16))
    exif = Image.Exif()
    exif[0x0112] = orientation
    raw = exif.tobytes()
    if entry is not None:
        at = raw.index(b"\x01\x12\x00\x03\x00\x00\x00\x01")  # big-endian ("MM") TIFF
        raw = raw[:at] + entry + raw[at + 12:]
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=raw)
    return buf.getvalue()


def _lottie(**changes) -> dict:
    doc = lottie_half_red(frames=4, fps=30, size=64)
    doc.update(changes)
    return doc


def _nested_group(depth: int) -> dict:
    """A shape layer whose groups nest ``depth`` deep (``it`` inside ``it``)."""
    inner: dict = {"ty": "rc", "p": {"a": 0, "k": [0, 0]}, "s": {"a": 0, "k": [8, 8]}, "r": {"a": 0, "k": 0}}
    for _ in range(depth):
        inner = {"ty": "gr", "it": [inner]}
    layer = dict(lottie_half_red(4, 30, 64)["layers"][0], ty=4, shapes=[inner])
    return _lottie(layers=[layer])


def _precomp_layer(ref: str) -> dict:
    base = lottie_half_red(4, 30, 64)["layers"][0]
    return {k: v for k, v in base.items() if k not in ("sc", "sw", "sh")} | {"ty": 0, "refId": ref, "w": 64, "h": 64}


def _precomp_fanout(levels: int, fan: int) -> dict:
    """assets l0..l{levels-1}: each holds ``fan`` precomp layers of the next (fan**levels layers)."""
    leaf = lottie_half_red(4, 30, 64)["layers"]
    assets = [{"id": f"l{levels}", "layers": leaf}]
    for i in range(levels - 1, 0, -1):
        assets.append({"id": f"l{i}", "layers": [_precomp_layer(f"l{i + 1}") for _ in range(fan)]})
    return _lottie(assets=assets, layers=[_precomp_layer("l1") for _ in range(fan)])


def _gzip_bomb(megabytes: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    chunk = b" " * (1 << 20)
    parts = [comp.compress(b'{"v":"5.5.2","fr":60,"ip":0,"op":60,"w":512,"h":512,"layers":[],"x":"')]
    parts += [comp.compress(chunk) for _ in range(megabytes)]
    parts.append(comp.compress(b'"}') + comp.flush())
    return b"".join(parts)


def _zip_lying_size(member: str, real: bytes, declared: int) -> bytes:
    """A zip whose headers say ``member`` is ``declared`` bytes but it inflates to ``len(real)``."""
    data = bytearray(_zip([(member, real)], level=9))
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(sig)
        data[at + off:at + off + 4] = struct.pack("<I", declared)
    return bytes(data)


#: A fuzzed WebM (zlib + base64 of the 11,632-byte libFuzzer artifact): FFmpeg takes
#: 3.8 GB and 4.8 s on it in-process; under the worker's RLIMIT_AS it fails in ~25 ms.
FUZZ_WEBM_BIG_ALLOC = (
    "eNqTcr2/eL5TWyOj03cg/tTI4vS5kcOpqaU8NSnXqb2Ryam1kUkiuCGdkQEEmBIEfWeX7PLd3R28ukXUc2Va8JrGhRCeWMi6bCDvhu/uHiBPKO"
    "RwevCaJkZ5CFcmeDdQsonJaw3EHIZIBjxAgYFE8B8CmJHFQK7bpHV9YzO/k4NvQ69PYlmamZGeIRAZGIU7ovJdOjscig6AtYG8cWgd1JWW1xsZ"
    "i492dHdXu0ZM9QyY08igtHVOc2leSkcjQ1trWHxYgGVzI6Py4+YW1q8PGR50bWhU2NWoEHygkRHk/xvFxQuSDzSkn5jlurjd1c/Z38U1yKUd1e"
    "bi4k3JB7qTIXb8/x/AxcBQunD1spXvGhmXLmnybHZiYPzA+I3BQkVGwouBwSCBgSHe/v+/S89Y9/9/u4IhQIBhwcaFkxsZUhjaGBwmzWEIYGBg"
    "Boaes0PpwmnLpoAM6UeT+N04ZwFYxO8BQgQUPRN3929uZNjeBUwGIuTGA9XDn7ygAMVV+omFros7XEKDHEM8/f1c2icbGFiBkZ6xARQwyDtvK3"
    "U48byRYcHdhWsbgfZhtUXL/v9/QUFg8vqXdxuUyugTR7AkDdZ6AqoVHmdIWoeEb9BTHIXuVcPnYDcLy0RmBkYGoJH/kdKj4n9uP9eQYGfHAFcj"
    "PQNmUApT/DmahoZuGpqzcOFo1UVh1TVaqOAvVCxHC5XRQmW0UKFme3i06Ud2DrMdtFlsyrJpC0fbfqPFNB2LaSoAsru9TDTu9kKLWWrkiNHEhO"
    "ab0fw52r8fLeNHy/jRMn5YJ6aBTDrEj4qPltej5fXo0Mno0MnoeOzoeOxooTJaqIyOx46Ox46Ox44W06N99dG++uh47Gj+HO3fj5bxxPhmtFgb"
    "9HnwYxNjzYdGZgAuFDd8"
)


def specials() -> dict[str, bytes]:
    """Named hostile files beyond truncation and bit flips."""
    s = seeds()
    cuppy, png, jpeg, gif = s["webp-static"][1], s["png"][1], s["jpeg"][1], s["gif"][1]
    webm = s["webm"][1]
    frames_10k = [Image.new("RGB", (1, 1), (i % 256, (i // 256) % 256, 0)) for i in range(10_000)]
    buf = io.BytesIO()
    frames_10k[0].save(buf, "WEBP", save_all=True, append_images=frames_10k[1:], duration=100, lossless=True)
    out: dict[str, bytes] = {
        "empty.webp": b"",
        "empty.tgs": b"",
        **{f"one-byte_{b:02x}.webp": bytes([b]) for b in (0x00, 0x52, 0x89, 0xFF, 0x1F, 0x50, 0x47, 0x1A)},
        # wrong extensions (sniffed by content: these decode)
        "png-named.webp": png,
        "webp-named.png": cuppy,
        "jpeg-named.tgs": jpeg,
        "tgs-named.webp": s["tgs"][1],
        "gif-named.jpg": gif,
        "webm-named.gif": webm,
        "zip-named.tgs": _zip([("inside.webp", cuppy)]),
        "text-named.webp": b"this is not a sticker\n",
        # polyglots
        "polyglot_gif+zip.gif": gif + _zip([("x.webp", cuppy)]),
        "polyglot_png+zip.png": png + _zip([("x.webp", cuppy)]),
        "polyglot_jpeg+html.jpg": jpeg + b"<html><script>alert(1)</script></html>",
        "polyglot_zip+png.wastickers": _zip([("x.webp", cuppy)]) + png,
        "polyglot_riff-webp-with-png-body.webp": b"RIFF" + struct.pack("<I", 4 + len(png)) + b"WEBP" + png,
        "polyglot_gzip-of-png.tgs": gzip.compress(png),
        "polyglot_pdf+jpeg.jpg": b"%PDF-1.4\n" + jpeg,
        # pixel floods
        "flood_png_100000x100000.png": _png_header_only(100_000, 100_000),
        "flood_png_4097x4096.png": _png_header_only(4097, 4096),
        "flood_webp-vp8l_16384x16384.webp": _webp_vp8l_header(16384, 16384),
        "flood_jpeg-sof_65500x65500.jpg": _jpeg_sof(65500, 65500),
        "flood_gif-screen_2048x2048_70-frames.gif": _gif_frames(70, screen=2048, delay_cs=5),
        # frame and duration floods
        "webp_10000-frames.webp": buf.getvalue(),
        "gif_endless-loop_5000-zero-delay-frames.gif": _gif_frames(5000),
        "gif_endless-loop_1500-zero-delay-frames.gif": _gif_frames(1500),
        "apng_actl-declares-2147483647-frames.png": _apng_declaring(2**31 - 1),
        # video with absurd dimensions
        # (the container's PixelWidth/Height are ignored: FFmpeg takes the VP9 bitstream's size)
        "webm_container-header-65536x65536.webm": _webm_dims(webm, bytes.fromhex("e08ab0830100" "00ba83010000")),
        "webm_container-header-32767x32767.webm": _webm_dims(webm, bytes.fromhex("e08ab0827fffba827fffec80")),
        "webm_container-header-0x0.webm": _webm_dims(webm, bytes.fromhex("e08ab08100ba810053c08101")),
        "webm_vp9-bitstream-65536x65536.webm": _vp9_frame_size(webm, 65536, 65536),
        "webm_vp9-bitstream-4096x8192.webm": _vp9_frame_size(webm, 4096, 8192),
        # found by fuzz/fuzz_decode.py (each crash it finds becomes a case here)
        "fuzz_webm-unknown-codec-id-V_VP0.webm": webm.replace(b"V_VP9", b"V_VP0"),
        "fuzz_webm-3.8GB-unbounded-allocation.webm": zlib.decompress(base64.b64decode(FUZZ_WEBM_BIG_ALLOC)),
        "fuzz_gif-frame-without-palette.gif": base64.b64decode(
            "R0lGODlhA4EAAAEAAP8AAAAAAAAAAAAAACH/C05FAAAh+QQJACH/C05FVFNDQVBFMi4wAwEAAAAh+QQJAAABACwAAAAAAwABAAAIBgABAAhQ"
            "EAAhCAQJAgAAAAD/AAAAAAAAAAgGAAAAAQAsAAAAAAMAAQAACAYAAQAIUBAAIQgECQIAAAAsAAAAAAMAAQCBAAAAAP8AAAAAAAAACAYAAQQA"
            "EBAAOw=="),
        # EXIF orientation abuse (ignored: the image decodes upright as stored)
        "exif_orientation-0.jpg": _jpeg_exif(0),
        "exif_orientation-9.jpg": _jpeg_exif(9),
        "exif_orientation-65535.jpg": _jpeg_exif(65535),
        "exif_orientation-ascii-type.jpg": _jpeg_exif(1, entry=bytes.fromhex("01120002" "00000001" "08000000")),
        "exif_orientation-count-1000-offset-out-of-file.jpg": _jpeg_exif(
            1, entry=bytes.fromhex("01120003" "000003e8" "ffffff00")),
        # Lottie / .tgs
        "tgs_gzip-bomb_64MB.tgs": _gzip_bomb(64),
        "tgs_nested-groups-100.tgs": gzip.compress(json.dumps(_nested_group(100)).encode()),
        "tgs_nested-arrays-100000.tgs": gzip.compress(b'{"v":"5","fr":30,"ip":0,"op":4,"w":8,"h":8,"layers":[],"x":'
                                                      + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "tgs_precomp-cycle.tgs": gzip.compress(json.dumps(_lottie(
            assets=[{"id": "a", "layers": [_precomp_layer("b")]}, {"id": "b", "layers": [_precomp_layer("a")]}],
            layers=[_precomp_layer("a")])).encode()),
        "tgs_precomp-self.tgs": gzip.compress(json.dumps(_lottie(
            assets=[{"id": "a", "layers": [_precomp_layer("a")]}], layers=[_precomp_layer("a")])).encode()),
        "tgs_precomp-fanout-10^6.tgs": gzip.compress(json.dumps(_precomp_fanout(6, 10)).encode()),
        "tgs_5000-layers.tgs": gzip.compress(json.dumps(_lottie(layers=lottie_half_red(4, 30, 64)["layers"] * 5000)).encode()),
        "tgs_op-1e9-frames.tgs": gzip.compress(json.dumps(_lottie(op=1e9)).encode()),
        "tgs_fr-0.001.tgs": gzip.compress(json.dumps(_lottie(fr=0.001)).encode()),
        "tgs_size-1e9.tgs": gzip.compress(json.dumps(_lottie(w=1e9, h=1e9)).encode()),
        "tgs_json-array.tgs": gzip.compress(b"[1, 2, 3]"),
        "tgs_not-json.tgs": gzip.compress(b"\xff\xfe not json"),
        "tgs_nan-fr.tgs": gzip.compress(b'{"v":"5","fr":NaN,"ip":0,"op":4,"w":8,"h":8,"layers":[]}'),
        "tgs_concatenated-gzip-members.tgs": s["tgs"][1] + s["tgs"][1],
        # archives
        "zipbomb_member-200MB.wastickers": _zip([("title.txt", b"bomb"), ("a.webp", bytes(200 << 20))], level=1),
        "zipbomb_ratio-1MB-zeros.wastickers": _zip([("a.webp", bytes(1 << 20)), ("ok.webp", cuppy)]),
        "zipbomb_total-9x60MB.wastickers": _zip([(f"m{i}.webp", bytes(60 << 20)) for i in range(9)], level=1),
        "zipbomb_lying-size.wastickers": _zip_lying_size("a.webp", bytes(10 << 20), 1000),
        "zip_3000-members.wastickers": _zip([(f"m{i}.webp", b"x") for i in range(3000)], level=0),
        "zip_nested-zip.wastickers": _zip([("inner.wastickers", _zip([("a.webp", cuppy)]))]),
        "zip_traversal.wastickers": _zip([("../../evil.webp", cuppy), ("/etc/abs.webp", cuppy),
                                          ("dir\\..\\back.webp", cuppy), ("C:/drive.webp", cuppy),
                                          ("ok.webp", cuppy)]),
        "zip_empty.wastickers": b"PK\x05\x06" + bytes(18),
        "zip_garbage-after-signature.wastickers": b"PK\x03\x04" + bytes(range(256)) * 4,
    }
    return out


def generate(out_dir: str | Path) -> list[Path]:
    """Write the whole corpus into ``out_dir`` (created); return the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for label, (ext, data) in seeds().items():
        files[f"seed_{label}.{ext}"] = data
        for off in truncation_offsets(len(data)):
            files[f"trunc_{label}_at-{off:07d}.{ext}"] = data[:off]
        for off in flip_offsets(len(data)):
            flipped = bytearray(data)
            flipped[off] ^= 1 << (off % 8)
            files[f"flip_{label}_byte-{off:07d}_bit-{off % 8}.{ext}"] = bytes(flipped)
    files.update(specials())
    written = []
    for name, data in sorted(files.items()):
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written


class _TreeRss:
    """Samples, every 5 ms, the summed VmRSS (KB) of this process and all its live
    descendants (from /proc), keeping the peak: the memory the whole run holds at once.
    ``ru_maxrss`` cannot give that: it is one process's lifetime peak."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        out: list[int] = []
        try:
            import os

            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    out.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
        return out

    def _run(self) -> None:
        import os

        while not self._stop.is_set():
            todo, total = [os.getpid()], 0
            while todo:
                pid = todo.pop()
                total += self._rss_kb(pid)
                todo.extend(self._children(pid))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(0.005)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def scan_report(corpus: str | Path, workers: int = 2) -> dict:
    """Scan ``corpus`` through the sandboxed pool (``stickerguard.match.scan``) and report
    every result plus the peak RSS of this process and of its (reaped) workers.

    Returns ``{"results": [{"path", "outcome", "message", "seconds"}], "seconds",
    "maxrss_self_kb", "maxrss_children_kb", "peak_tree_rss_kb", "replaced"}``; paths
    relative to ``corpus``.
    """
    import resource
    import time

    from stickerguard.isolate import DecoderPool
    from stickerguard.match.scan import ScanSummary, scan

    root = Path(corpus)
    summary = ScanSummary()
    start = time.perf_counter()
    rows = []
    sampler = _TreeRss()
    sampler.start()
    with DecoderPool(workers) as pool:
        for r in scan([root], pool=pool, workers=workers, summary=summary):
            outcome = "ok"
            if r.error is not None:
                outcome = r.error.code + (f":{r.error.field}" if r.error.field else "")
            rows.append({"path": str(Path(r.path.split("!")[0]).relative_to(root)) + ("!" + r.path.split("!", 1)[1] if "!" in r.path else ""),
                         "outcome": outcome, "message": str(r.error) if r.error else None, "seconds": r.seconds})
        replaced = pool.replaced
    sampler.stop()
    return {
        "results": rows,
        "summary": summary.to_dict(),
        "seconds": time.perf_counter() - start,
        "maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "maxrss_children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "peak_tree_rss_kb": sampler.peak_kb,
        "replaced": replaced,
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--scan":
        print(json.dumps(scan_report(sys.argv[2])))
    else:
        paths = generate(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
        print(f"{len(paths)} files")
