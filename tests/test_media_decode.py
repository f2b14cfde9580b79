"""Tests for stickerguard.media sniff() and decode(): real files from tests/data plus generated fixtures."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import media_fixtures as mf
from stickerguard.errors import DecodeError, LimitExceeded, UnsupportedMedia
from stickerguard.media import Limits, Spread, decode, sniff
from stickerguard.media.images import to_rgba
from stickerguard.media.sampling import FrameSampler, SpreadSampler

DATA = Path(__file__).parent / "data"
CUPPY = DATA / "whatsapp-sample-packs/1/01_Cuppy_smile.webp"
TRAY = DATA / "whatsapp-sample-packs/1/tray_Cuppy.png"
JPEG = DATA / "pdq-reference/bridge-mods/aaa-orig.jpg"
ANIMATED = DATA / "whatsapp-sample-packs/2/08_AreYouOK.webp"
TGS = DATA / "telegram-tgs/phone.tgs"


@pytest.fixture(scope="module")
def webm() -> bytes:
    return mf.webm_half_alpha()


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return mf.mp4_h264()


# --- sniff -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [(CUPPY, "webp"), (TRAY, "png"), (JPEG, "jpeg"), (TGS, "tgs"), (ANIMATED, "webp")],
)
def test_sniff_real_files(path: Path, expected: str) -> None:
    assert sniff(path.read_bytes(), name=path.name) == expected


def test_sniff_generated_formats(webm: bytes, mp4: bytes) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, "BMP")
    assert sniff(buf.getvalue()) == "bmp"
    assert sniff(mf.gif_two_frames(2)) == "gif"
    assert sniff(webm) == "webm"
    assert sniff(mp4) == "mp4"
    assert sniff(b"PK\x03\x04" + b"\x00" * 26) == "zip"


def test_sniff_ignores_extension_png_named_webp() -> None:
    data = TRAY.read_bytes()
    assert sniff(data, name="sticker.webp") == "png"
    media = decode(data, name="sticker.webp")
    assert (media.format, media.width, media.height, media.animated) == ("png", 96, 96, False)


def test_jpeg_named_png_decodes_as_jpeg() -> None:
    media = decode(JPEG.read_bytes(), name="photo.png")
    assert media.format == "jpeg"
    assert media.frames[0].image.mode == "RGBA"


def test_sniff_empty_and_unknown() -> None:
    with pytest.raises(DecodeError) as err:
        sniff(b"", name="x.webp")
    assert str(err.value) == "x.webp: empty file"
    with pytest.raises(UnsupportedMedia) as err:
        sniff(b"hello world, not media", name="a.txt")
    assert str(err.value) == "a.txt: unrecognised format; first bytes: 68 65 6c 6c 6f 20 77 6f 72 6c 64 2c"
    with pytest.raises(UnsupportedMedia) as err:
        sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", name="a.avif")
    assert str(err.value) == "a.avif: ISO BMFF still-image brand 'avif' (HEIF/AVIF) is not supported"


def test_sniff_ebml_doctypes() -> None:
    assert sniff(b"\x1a\x45\xdf\xa3\x8b\x42\x82\x88matroska") == "webm"
    with pytest.raises(UnsupportedMedia) as err:
        sniff(b"\x1a\x45\xdf\xa3\x86\x42\x82\x83foo", name="x.mkv")
    assert str(err.value) == "x.mkv: EBML file with DocType 'foo', not webm or matroska"


def test_decode_zip_is_not_media() -> None:
    with pytest.raises(UnsupportedMedia) as err:
        decode(b"PK\x03\x04" + b"\x00" * 26, name="pack.wastickers")
    assert str(err.value) == "pack.wastickers: zip archive, not a media file"


# --- still images ----------------------------------------------------------------------


def test_static_webp_cuppy() -> None:
    media = decode(CUPPY.read_bytes(), name=CUPPY.name)
    assert (media.format, media.width, media.height, media.animated) == ("webp", 512, 512, False)
    assert (media.frame_count, media.duration_ms, len(media.frames)) == (1, 0.0, 1)
    frame = media.frames[0]
    assert (frame.index, frame.timestamp_ms, frame.duration_ms, frame.image.mode) == (0, 0.0, 0.0, "RGBA")
    assert frame.image.getpixel((0, 0)) == (0, 0, 0, 0)  # transparent sticker border
    assert frame.image.getchannel("A").getextrema() == (0, 255)


def test_truncated_webp_error_text() -> None:
    data = CUPPY.read_bytes()
    with pytest.raises(DecodeError) as err:
        decode(data[: len(data) // 2], name="cut.webp")
    assert str(err.value) == (
        "cut.webp: truncated webp: RIFF header declares 7774 bytes, file has 3887 (could not create decoder object)"
    )


def test_truncated_png_error_text() -> None:
    data = TRAY.read_bytes()
    with pytest.raises(DecodeError) as err:
        decode(data[: len(data) // 2], name="cut.png")
    assert str(err.value) == "cut.png: truncated or corrupt png: image file is truncated"


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("1", 1, (255, 255, 255, 255)),
        ("L", 100, (100, 100, 100, 255)),
        ("LA", (100, 50), (100, 100, 100, 50)),
        ("RGB", (1, 2, 3), (1, 2, 3, 255)),
        ("RGBA", (1, 2, 3, 4), (1, 2, 3, 4)),
        ("CMYK", (0, 255, 0, 0), (255, 0, 255, 255)),
        ("YCbCr", (128, 128, 128), (128, 128, 128, 255)),
        ("I;16", 40000, (156, 156, 156, 255)),  # 40000 >> 8
        ("I;16B", 40000, (156, 156, 156, 255)),
        ("I", 70000, (255, 255, 255, 255)),  # clipped like Pillow's "L"
        ("I", 100, (100, 100, 100, 255)),
        ("F", 100.6, (100, 100, 100, 255)),  # clipped and truncated like Pillow's "L"
        ("F", -3.0, (0, 0, 0, 255)),
    ],
)
def test_every_mode_to_rgba(mode: str, value: object, expected: tuple[int, ...]) -> None:
    out = to_rgba(Image.new(mode, (1, 1), value))
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0)) == expected


def test_palette_modes_to_rgba() -> None:
    p = Image.new("P", (2, 1), 0)
    p.putpalette([10, 20, 30, 200, 100, 50])
    p.putpixel((1, 0), 1)
    assert [to_rgba(p).getpixel((x, 0)) for x in range(2)] == [(10, 20, 30, 255), (200, 100, 50, 255)]
    p.info["transparency"] = 1
    assert [to_rgba(p).getpixel((x, 0)) for x in range(2)] == [(10, 20, 30, 255), (200, 100, 50, 0)]
    pa = Image.new("PA", (1, 1), (1, 77))
    pa.putpalette([10, 20, 30, 200, 100, 50])
    assert to_rgba(pa).getpixel((0, 0)) == (200, 100, 50, 77)


def test_sixteen_bit_png_and_transparent_palette_png_decode() -> None:
    buf = io.BytesIO()
    Image.new("I;16", (1, 1), 40000).save(buf, "PNG")
    assert decode(buf.getvalue(), name="g16.png").frames[0].image.getpixel((0, 0)) == (156, 156, 156, 255)
    p = Image.new("P", (1, 1), 0)
    p.putpalette([10, 20, 30])
    buf = io.BytesIO()
    p.save(buf, "PNG", transparency=0)
    assert decode(buf.getvalue(), name="p.png").frames[0].image.getpixel((0, 0)) == (10, 20, 30, 0)


def test_unconvertible_mode_is_unsupported() -> None:
    with pytest.raises(UnsupportedMedia) as err:
        to_rgba(Image.new("LAB", (1, 1)), name="lab.tif")
    assert str(err.value) == "lab.tif: pixel mode LAB cannot be converted to RGBA"


def _two_by_one_png(orientation: int) -> bytes:
    im = Image.new("RGB", (2, 1))
    im.putpixel((0, 0), (255, 0, 0))
    im.putpixel((1, 0), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "PNG", exif=exif)
    return buf.getvalue()


def test_exif_orientation_6_rotates_clockwise() -> None:
    media = decode(_two_by_one_png(6), name="rot.png")
    image = media.frames[0].image
    assert (media.width, media.height, image.size) == (1, 2, (1, 2))
    assert [image.getpixel((0, y)) for y in range(2)] == [(255, 0, 0, 255), (0, 0, 255, 255)]


def test_bad_exif_orientation_is_ignored() -> None:
    media = decode(_two_by_one_png(9), name="bad.png")
    image = media.frames[0].image
    assert image.size == (2, 1)
    assert [image.getpixel((x, 0)) for x in range(2)] == [(255, 0, 0, 255), (0, 0, 255, 255)]


# --- animations ------------------------------------------------------------------------


def test_animated_webp_frames_and_durations() -> None:
    media = decode(ANIMATED.read_bytes(), name=ANIMATED.name)
    assert (media.format, media.width, media.height, media.animated) == ("webp", 512, 512, True)
    assert media.frame_count == len(media.frames) == 16
    assert [f.duration_ms for f in media.frames] == [88.0] * 15 + [264.0]
    assert [f.timestamp_ms for f in media.frames] == [88.0 * i for i in range(16)]
    assert media.duration_ms == 1584.0
    assert {f.image.mode for f in media.frames} == {"RGBA"}
    assert {f.image.size for f in media.frames} == {(512, 512)}


def test_apng_dispose_and_blend_ops_are_composited() -> None:
    media = decode(mf.apng_disposal(), name="anim.png")
    assert (media.format, media.frame_count, media.animated) == ("png", 4, True)
    rows = [[f.image.getpixel((x, 0)) for x in range(4)] for f in media.frames]
    R, G, W, T, b = mf.RED, mf.GREEN, mf.WHITE, mf.CLEAR, mf.BLUE_HALF
    assert rows == [[R, R, R, R], [G, R, R, R], [T, T, R, b], [T, T, W, R]]
    # delays 100/1000, 5/100, 0/0 (0 ms -> 100 ms), 1/1000 (1 ms -> 100 ms)
    assert [f.duration_ms for f in media.frames] == [100.0, 50.0, 100.0, 100.0]
    assert [f.timestamp_ms for f in media.frames] == [0.0, 100.0, 150.0, 250.0]
    assert media.duration_ms == 350.0


@pytest.mark.parametrize(("disposal", "second"), [(2, [mf.CLEAR, mf.GREEN, mf.CLEAR]), (1, [mf.RED, mf.GREEN, mf.CLEAR])])
def test_gif_disposal(disposal: int, second: list) -> None:
    media = decode(mf.gif_two_frames(disposal), name="anim.gif")
    rows = [[f.image.getpixel((x, 0)) for x in range(3)] for f in media.frames]
    assert rows == [[mf.RED, mf.RED, mf.CLEAR], second]
    assert [f.duration_ms for f in media.frames] == [100.0, 20.0]  # 0 ms shown as 100 ms


def test_gif_disposal_2_without_transparency_uses_background_colour() -> None:
    """Known deviation: Pillow restores to the GIF background colour (here red) when the
    disposed frame has no transparent index; browsers clear to transparent."""
    media = decode(mf.gif_two_frames(2, frame0_transparent=False), name="anim.gif")
    assert [media.frames[1].image.getpixel((x, 0)) for x in range(3)] == [mf.RED, mf.GREEN, mf.RED]


# --- sampling --------------------------------------------------------------------------


def test_sampler_keeps_frames_covering_sample_times() -> None:
    sampler = FrameSampler(100.0)
    spans = [(0, 0.0, 30.0), (1, 30.0, 30.0), (2, 60.0, 30.0), (3, 90.0, 30.0), (4, 120.0, 90.0), (5, 210.0, 0.0)]
    assert [i for i, ts, d in spans if sampler.keep(i, ts, d)] == [0, 3, 4]
    with pytest.raises(ValueError):
        FrameSampler(0)


def test_spread_sampler_keeps_frames_covering_slot_midpoints() -> None:
    # 4 slots of 300 ms over 1200 ms: midpoints 150, 450, 750, 1050
    sampler = SpreadSampler(1200.0, 4)
    spans = [(0, 0.0, 100.0), (1, 100.0, 100.0), (2, 200.0, 400.0), (3, 600.0, 100.0),
             (4, 700.0, 100.0), (5, 800.0, 250.0), (6, 1050.0, 150.0)]
    assert [i for i, ts, d in spans if sampler.keep(i, ts, d)] == [0, 1, 2, 4, 6]
    assert [i for i, ts, d in spans if SpreadSampler(0.0, 4).keep(i, ts, d)] == [0]


def test_spread_count_is_fixed_up_to_12_s_then_one_per_500_ms() -> None:
    spread = Spread()
    assert [spread.count(ms) for ms in (0, 1500, 3000, 12_000, 12_001, 20_000, 31_500, 120_000)] == [
        24, 24, 24, 24, 25, 40, 63, 63]
    # kept frames are capped at 64 x 512 x 512 pixels: a large canvas gets fewer samples
    assert [spread.count(1500, side * side) for side in (512, 836, 837, 1024, 4096)] == [24, 24, 23, 16, 1]
    with pytest.raises(ValueError, match="min_samples <= max_samples"):
        Spread(min_samples=10, max_samples=5)
    with pytest.raises(ValueError, match="give sample_interval_ms or spread, not both"):
        decode(ANIMATED.read_bytes(), name="a.webp", sample_interval_ms=250, spread=spread)


def test_spread_sampling_is_the_same_at_twice_the_speed() -> None:
    from stickerguard.transforms import anim_reencode, speed_2x

    data = ANIMATED.read_bytes()
    normal, fast = (decode(t(data), name="a.webp", spread=Spread()) for t in (anim_reencode, speed_2x))
    assert (normal.duration_ms, fast.duration_ms) == (1584.0, 792.0)
    assert [f.index for f in normal.frames] == [f.index for f in fast.frames] == list(range(16))
    # a 60 fps Lottie at twice the speed stores 8 ms frames, played (and reported) as
    # 100 ms each; sample times sit on the stored timeline, so the same frames are kept
    tgs = TGS.read_bytes()
    normal, fast = (decode(t(tgs), name="p.webp", spread=Spread()) for t in (anim_reencode, speed_2x))
    assert (normal.frame_count, fast.frame_count, fast.frames[1].duration_ms, fast.duration_ms) == (132, 132, 100.0, 13164.0)
    assert [f.index for f in normal.frames] == [f.index for f in fast.frames]
    assert [f.index for f in fast.frames][:8] == [0, 2, 8, 14, 20, 26, 31, 37]


def test_webp_durations_read_from_anmf_chunks_equal_pillows() -> None:
    from PIL import Image, ImageSequence

    from stickerguard.media.images import webp_stored_durations

    data = ANIMATED.read_bytes()
    pillow = []
    with Image.open(ANIMATED) as im:
        for frame in ImageSequence.Iterator(im):
            frame.load()  # WebP reports a frame's duration once it is decoded
            pillow.append(float(frame.info["duration"]))
    assert webp_stored_durations(data, len(pillow)) == pillow == [88.0] * 15 + [264.0]
    assert webp_stored_durations(data, 15) is None  # more ANMF chunks than frames
    assert webp_stored_durations(data[:200], 16) is None  # truncated: stops at the end
    assert webp_stored_durations(CUPPY.read_bytes(), 1) is None  # a still WebP has no ANMF
    assert webp_stored_durations(b"RIFF\xff\xff\xff\xffWEBPANMF\x10\x00\x00\x00", 1) is None


def test_spread_sampled_tgs_and_webm_read_the_timeline_first() -> None:
    media = decode(TGS.read_bytes(), name=TGS.name, spread=Spread(min_samples=4, max_samples=4))
    slot = media.duration_ms / 4
    assert [f.index for f in media.frames] == [0] + [
        int((i + 0.5) * slot // (1000 / 60)) for i in range(4)]


def test_sampled_animated_webp_keeps_source_indexes() -> None:
    media = decode(ANIMATED.read_bytes(), name=ANIMATED.name, sample_interval_ms=250)
    assert media.frame_count == 16
    assert [f.index for f in media.frames] == [0, 2, 5, 8, 11, 14, 15]
    assert [f.timestamp_ms for f in media.frames] == [0.0, 176.0, 440.0, 704.0, 968.0, 1232.0, 1320.0]


def test_sampled_apng_still_composites_skipped_frames() -> None:
    media = decode(mf.apng_disposal(), name="anim.png", sample_interval_ms=125)
    # spans [0,100) [100,150) [150,250) [250,350) against samples 0, 125, 250
    assert [f.index for f in media.frames] == [0, 1, 3]
    # frame 3 depends on skipped frame 2's PREVIOUS disposal and frame 1's BACKGROUND disposal
    assert [media.frames[2].image.getpixel((x, 0)) for x in range(4)] == [mf.CLEAR, mf.CLEAR, mf.WHITE, mf.RED]


# --- Telegram .tgs -----------------------------------------------------------------------


def test_tgs_render_sampled() -> None:
    media = decode(TGS.read_bytes(), name=TGS.name, sample_interval_ms=250)
    assert (media.format, media.width, media.height, media.animated) == ("tgs", 512, 512, True)
    assert media.frame_count == 139  # op 139 - ip 0
    assert media.duration_ms == pytest.approx(139 * 1000 / 60)
    assert [f.index for f in media.frames] == list(range(0, 139, 15))
    assert media.frames[1].timestamp_ms == 250.0
    assert media.frames[0].duration_ms == pytest.approx(1000 / 60)  # fps 60
    assert media.frames[0].image.getbbox() == (140, 36, 372, 478)  # the phone, centred
    for frame in media.frames:
        assert frame.image.mode == "RGBA" and frame.image.size == (512, 512)
        low, high = frame.image.getchannel("A").getextrema()
        assert low == 0 and high >= 254  # transparent background, opaque drawing


def test_tgs_alpha_is_straight_not_premultiplied() -> None:
    media = decode(mf.tgs_bytes(mf.lottie_half_red()), name="half.tgs")
    assert (media.width, media.height, media.frame_count) == (8, 8, 4)
    assert [f.timestamp_ms for f in media.frames] == [0.0, 1000 / 30, 2000 / 30, 100.0]
    assert media.frames[0].image.getpixel((4, 4)) == (255, 0, 0, 127)


def test_tgs_scaled_down_to_512() -> None:
    doc = mf.lottie_half_red(frames=1, size=1024)
    media = decode(mf.tgs_bytes(doc), name="big.tgs")
    assert (media.width, media.height, media.animated) == (512, 512, False)


def test_tgs_errors() -> None:
    with pytest.raises(DecodeError) as err:
        decode(mf.tgs_bytes(b'{"v": "5.5.2"}'), name="x.tgs")
    assert str(err.value) == "x.tgs: not a Lottie animation: missing keys ['fr', 'ip', 'op', 'w', 'h', 'layers']"
    with pytest.raises(DecodeError) as err:
        decode(mf.tgs_bytes(b"not json"), name="y.tgs")
    assert str(err.value) == "y.tgs: tgs does not hold valid JSON: Expecting value: line 1 column 1 (char 0)"
    data = TGS.read_bytes()
    with pytest.raises(DecodeError) as err:
        decode(data[:100], name="cut.tgs")
    assert str(err.value) == (
        "cut.tgs: truncated or corrupt tgs (gzip): Compressed file ended before the end-of-stream marker was reached"
    )


# --- video -----------------------------------------------------------------------------


def test_webm_vp9_alpha_survives(webm: bytes) -> None:
    media = decode(webm, name="alpha.webm")
    assert (media.format, media.width, media.height, media.frame_count) == ("webm", 64, 64, 5)
    assert [f.timestamp_ms for f in media.frames] == [0.0, 100.0, 200.0, 300.0, 400.0]
    assert [f.duration_ms for f in media.frames] == [100.0] * 5
    assert media.duration_ms == 500.0
    alpha = media.frames[0].image.getchannel("A")
    assert alpha.crop((0, 0, 32, 64)).getextrema() == (0, 0)
    assert alpha.crop((32, 0, 64, 64)).getextrema() == (255, 255)


def test_webm_sampling(webm: bytes) -> None:
    media = decode(webm, name="alpha.webm", sample_interval_ms=250)
    assert media.frame_count == 5
    assert [f.index for f in media.frames] == [0, 2]


def test_webm_and_mp4_spread_sampling_use_the_demuxed_duration(webm: bytes, mp4: bytes) -> None:
    # webm: 5 x 100 ms, 2 slots of 250 ms -> midpoints 125 and 375 ms: frames 1 and 3
    media = decode(webm, name="alpha.webm", spread=Spread(min_samples=2, max_samples=2))
    assert (media.duration_ms, [f.index for f in media.frames]) == (500.0, [0, 1, 3])
    # mp4: 4 x 40 ms, 3 slots of 53.3 ms -> midpoints 26.7, 80 and 133.3 ms: frames 0, 2, 3
    media = decode(mp4, name="clip.mp4", spread=Spread(min_samples=3, max_samples=3))
    assert (media.duration_ms, [f.index for f in media.frames]) == (160.0, [0, 2, 3])


def test_mp4_h264(mp4: bytes) -> None:
    media = decode(mp4, name="clip.mp4")
    assert (media.format, media.width, media.height, media.frame_count) == ("mp4", 32, 32, 4)
    assert [f.timestamp_ms for f in media.frames] == [0.0, 40.0, 80.0, 120.0]
    assert media.duration_ms == 160.0
    for i, frame in enumerate(media.frames):
        r, g, b, a = frame.image.getpixel((16, 16))
        assert a == 255
        assert abs(r - (40 + 50 * i)) <= 2 and r == g == b  # lossy, limited-range YUV


def test_truncated_video(webm: bytes, mp4: bytes) -> None:
    with pytest.raises(DecodeError) as err:
        decode(webm[:40], name="cut.webm")
    assert str(err.value) == "cut.webm: truncated or corrupt webm: End of file"
    with pytest.raises(DecodeError) as err:
        decode(mp4[:40], name="cut.mp4")
    assert str(err.value) == "cut.mp4: truncated or corrupt mp4: Invalid data found when processing input"


# --- limits ----------------------------------------------------------------------------


def test_limit_max_file_bytes() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(CUPPY.read_bytes(), name="c.webp", limits=Limits(max_file_bytes=1000))
    assert str(err.value) == "c.webp: file is 7774 bytes, over the limit of 1000 bytes (max_file_bytes)"
    assert err.value.field == "max_file_bytes"


def test_limit_max_pixels() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(CUPPY.read_bytes(), name="c.webp", limits=Limits(max_pixels=512 * 512 - 1))
    assert str(err.value) == "c.webp: canvas 512x512 is 262144 pixels, over the limit of 262143 (max_pixels)"


def _png_header(width: int, height: int) -> bytes:
    ihdr = mf._chunk(b"IHDR", width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0]))
    return b"\x89PNG\r\n\x1a\n" + ihdr + mf._chunk(b"IEND", b"")


def test_limit_pixels_checked_from_header_and_pillow_bomb_check() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(_png_header(5000, 5000), name="big.png")
    assert str(err.value) == "big.png: canvas 5000x5000 is 25000000 pixels, over the limit of 16777216 (max_pixels)"
    with pytest.raises(LimitExceeded) as err:
        decode(_png_header(20000, 20000), name="bomb.png", limits=Limits(max_pixels=10**9))
    assert str(err.value) == (
        "bomb.png: Pillow decompression-bomb check: Image size (400000000 pixels) exceeds limit of "
        "178956970 pixels, could be decompression bomb DOS attack."
    )


def test_limit_max_frames() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(ANIMATED.read_bytes(), name="a.webp", limits=Limits(max_frames=10))
    assert str(err.value) == "a.webp: animation has 16 frames, over the limit of 10 (max_frames)"


def test_limit_max_duration() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(ANIMATED.read_bytes(), name="a.webp", limits=Limits(max_duration_ms=1000))
    assert str(err.value) == "a.webp: animation lasts 1056 ms, over the limit of 1000 ms (max_duration_ms)"


def test_limit_tgs_json_cap() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(TGS.read_bytes(), name="p.tgs", limits=Limits(max_tgs_json_bytes=1000))
    assert str(err.value) == (
        "p.tgs: decompressed Lottie JSON is over 1000 bytes (max_tgs_json_bytes); stopped after 1001 bytes"
    )


def test_limit_tgs_frames() -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(TGS.read_bytes(), name="p.tgs", limits=Limits(max_frames=100))
    assert str(err.value) == "p.tgs: animation has 139 frames, over the limit of 100 (max_frames)"


def test_limit_video(webm: bytes) -> None:
    with pytest.raises(LimitExceeded) as err:
        decode(webm, name="v.webm", limits=Limits(max_pixels=4000))
    assert str(err.value) == "v.webm: canvas 64x64 is 4096 pixels, over the limit of 4000 (max_pixels)"
    with pytest.raises(LimitExceeded) as err:
        decode(webm, name="v.webm", limits=Limits(max_frames=3))
    assert str(err.value) == "v.webm: animation has at least 4 frames, over the limit of 3 (max_frames)"
    with pytest.raises(LimitExceeded) as err:
        decode(webm, name="v.webm", limits=Limits(max_duration_ms=250))
    assert str(err.value) == "v.webm: animation lasts 500 ms, over the limit of 250 ms (max_duration_ms)"


def test_bmp_and_static_gif_decode() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (12, 34, 56)).save(buf, "BMP")
    media = decode(buf.getvalue(), name="a.bmp")
    assert (media.format, media.width, media.height) == ("bmp", 3, 2)
    assert media.frames[0].image.getpixel((2, 1)) == (12, 34, 56, 255)
    buf = io.BytesIO()
    Image.new("RGB", (2, 2), (255, 0, 0)).save(buf, "GIF")
    media = decode(buf.getvalue(), name="a.gif")
    assert (media.format, media.animated, media.frame_count) == ("gif", False, 1)
    assert media.frames[0].image.getpixel((1, 1)) == (255, 0, 0, 255)


def test_bad_sample_interval_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="sample_interval_ms must be a positive number of milliseconds, got -5"):
        decode(CUPPY.read_bytes(), name="c.webp", sample_interval_ms=-5)


def test_decoded_frames_share_their_pixels_with_numpy() -> None:
    # Still and animation frames are array-backed: np.asarray gives the same memory each time
    # (no Pillow tobytes copy), with the decoded pixel values, read-only.
    import numpy as np

    from stickerguard.media.images import PixelImage

    still = decode(CUPPY.read_bytes(), name="x").frames[0].image
    anim = decode(ANIMATED.read_bytes(), name="y").frames[1].image
    for image in (still, anim):
        assert isinstance(image, PixelImage) and image.mode == "RGBA"
        a, b = np.asarray(image), np.asarray(image)
        assert np.shares_memory(a, b) and not a.flags.writeable and a.shape == (512, 512, 4)
        assert np.array_equal(a, np.frombuffer(image.tobytes(), np.uint8).reshape(a.shape))
    assert tuple(np.asarray(still)[256, 256]) == still.getpixel((256, 256)) == (255, 255, 236, 255)


def test_pixel_image_falls_back_after_an_in_place_change() -> None:
    import numpy as np

    from stickerguard.media.images import pixel_image

    pixels = np.zeros((3, 5, 4), np.uint8)
    pixels[1, 2] = (10, 20, 30, 40)
    image = pixel_image(pixels)
    assert image.size == (5, 3) and image.getpixel((2, 1)) == (10, 20, 30, 40)
    assert np.shares_memory(np.asarray(image), pixels)
    image.putalpha(200)  # Pillow copies the read-only core first
    after = np.asarray(image)
    assert not np.shares_memory(after, pixels) and after[1, 2].tolist() == [10, 20, 30, 200]
    assert pixels[1, 2].tolist() == [10, 20, 30, 40]
    with pytest.raises(ValueError, match=r"^expected a uint8 \(h, w, 4\) RGBA array, got uint8 \(3, 5, 3\)$"):
        pixel_image(pixels[:, :, :3])
