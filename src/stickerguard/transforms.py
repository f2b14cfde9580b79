"""Named, seeded image transforms: the edits a sticker survives in the wild.

Used by the robustness tests, the CLI demo and the benchmarks. Every transform is
``fn(image, seed=0) -> PIL.Image`` and deterministic for a given seed (the random
colour, noise, overlay position and text depend on it). Inputs are any Pillow image;
outputs are RGBA unless the transform flattens (then RGB). Re-encoding transforms
return the decoded result; :func:`apply_bytes` gives the encoded file bytes instead
(what a client would send). Animation transforms work on file bytes (animated WebP in,
animated WebP out): :data:`ANIMATION_TRANSFORMS`, :func:`apply_animation`.

Public surface::

    TRANSFORMS: dict[name, fn]       # insertion order is the report order
    apply(name, image, seed=0) -> Image
    apply_bytes(name, image, seed=0) -> (bytes, ext)   # "webp" / "jpeg" / "png"
    ANIMATION_TRANSFORMS: dict[name, fn(bytes, seed) -> bytes]
    apply_animation(name, data, seed=0) -> bytes        # animated WebP bytes
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Transform = Callable[..., Image.Image]


def _rgba(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGBA" else image.convert("RGBA")


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.copy()


def identity(image: Image.Image, seed: int = 0) -> Image.Image:
    """The image unchanged (as RGBA)."""
    return _rgba(image)


def webp_q50_bytes(image: Image.Image, seed: int = 0) -> bytes:
    """Lossy WebP at quality 50 (alpha kept), as file bytes."""
    return _encode(_rgba(image), "WEBP", quality=50, method=4)


def webp_q50(image: Image.Image, seed: int = 0) -> Image.Image:
    """Re-encode as lossy WebP quality 50 and decode again."""
    return _decode(webp_q50_bytes(image, seed))


def resize_256(image: Image.Image, seed: int = 0) -> Image.Image:
    """Scale so the longer side is 256 px (LANCZOS, aspect kept)."""
    im = _rgba(image)
    w, h = im.size
    k = 256 / max(w, h)
    return im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS)


def resize_128(image: Image.Image, seed: int = 0) -> Image.Image:
    """Scale so the longer side is 128 px (LANCZOS, aspect kept)."""
    im = _rgba(image)
    w, h = im.size
    k = 128 / max(w, h)
    return im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.LANCZOS)


def mirror(image: Image.Image, seed: int = 0) -> Image.Image:
    """Mirror left-right."""
    return _rgba(image).transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def rotate_90(image: Image.Image, seed: int = 0) -> Image.Image:
    """Rotate 90 degrees counter-clockwise (lossless)."""
    return _rgba(image).transpose(Image.Transpose.ROTATE_90)


def _flatten(image: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    im = _rgba(image)
    bg = Image.new("RGBA", im.size, colour + (255,))
    return Image.alpha_composite(bg, im).convert("RGB")


def flatten_white(image: Image.Image, seed: int = 0) -> Image.Image:
    """Alpha-composite onto white; RGB out."""
    return _flatten(image, (255, 255, 255))


def flatten_black(image: Image.Image, seed: int = 0) -> Image.Image:
    """Alpha-composite onto black; RGB out."""
    return _flatten(image, (0, 0, 0))


def random_colour(seed: int = 0) -> tuple[int, int, int]:
    """The background colour ``flatten_random`` uses for ``seed`` (random.Random(seed))."""
    rng = random.Random(seed)
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def flatten_random(image: Image.Image, seed: int = 0) -> Image.Image:
    """Alpha-composite onto :func:`random_colour` (seed); RGB out."""
    return _flatten(image, random_colour(seed))


def alpha_reflatten(image: Image.Image, seed: int = 0) -> Image.Image:
    """Keep alpha, store :func:`random_colour` (seed) as the RGB of every fully transparent pixel.

    What an editor or converter does when it re-saves a sticker: the picture a viewer
    shows is unchanged, but a hasher that drops alpha (Meta's reference, HMA) sees the
    new colour around the drawing.
    """
    im = _rgba(image)
    a = np.asarray(im).copy()
    a[a[..., 3] == 0, :3] = random_colour(seed)
    return Image.fromarray(a, "RGBA")


def noise_background(image: Image.Image, seed: int = 0) -> Image.Image:
    """Alpha-composite onto per-pixel uniform random RGB noise (numpy PCG64, seed); RGB out."""
    im = _rgba(image)
    noise = np.random.default_rng(seed).integers(0, 256, (im.height, im.width, 3), dtype=np.uint8)
    bg = Image.fromarray(noise, "RGB").convert("RGBA")
    return Image.alpha_composite(bg, im).convert("RGB")


def _emoji(side: int) -> Image.Image:
    """A drawn smiley (yellow disc, brown eyes and smile), RGBA ``side`` x ``side``."""
    em = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(em)
    w = max(1, side // 24)
    d.ellipse((w, w, side - 1 - w, side - 1 - w), fill=(255, 204, 51, 255), outline=(120, 70, 20, 255), width=w)
    e = side // 10
    for cx in (side * 0.35, side * 0.65):
        d.ellipse((cx - e / 2, side * 0.3, cx + e / 2, side * 0.3 + 1.6 * e), fill=(90, 50, 20, 255))
    d.arc((side * 0.25, side * 0.3, side * 0.75, side * 0.78), 20, 160, fill=(90, 50, 20, 255), width=max(1, side // 16))
    return em


def emoji_overlay(image: Image.Image, seed: int = 0) -> Image.Image:
    """Paste a smiley of 25 % of the shorter side in a seeded corner of the image (RGBA out).

    The emoji sits 4 % in from the two edges of that corner, as sticker editors place
    reactions. Corner: ``random.Random(seed).randrange(4)`` (0 top-left, clockwise).
    """
    im = _rgba(image).copy()
    side = max(4, round(min(im.size) * 0.25))
    mx, my = round(im.width * 0.04), round(im.height * 0.04)
    corner = random.Random(seed).randrange(4)
    x = mx if corner in (0, 3) else im.width - mx - side
    y = my if corner in (0, 1) else im.height - my - side
    im.alpha_composite(_emoji(side), (x, y))
    return im


#: Captions :func:`text_overlay` picks from (``random.Random(seed).choice``).
CAPTIONS = ("LOL", "OK!", "hello", "same", "mood", "yes", "no way", "wow", "ME", "good night")


def text_overlay(image: Image.Image, seed: int = 0) -> Image.Image:
    """Caption near the bottom: a seeded word from :data:`CAPTIONS`, white with a black stroke.

    Font: Pillow's bundled default font (``ImageFont.load_default``) at 1/7 of the image
    height; centred horizontally, its baseline 6 % above the bottom edge. RGBA out.
    """
    im = _rgba(image).copy()
    text = random.Random(seed).choice(CAPTIONS)
    size = max(8, im.height // 7)
    font = ImageFont.load_default(size=size)
    d = ImageDraw.Draw(im)
    d.text((im.width / 2, im.height * 0.94), text, font=font, anchor="ms", fill=(255, 255, 255, 255),
           stroke_width=max(1, size // 12), stroke_fill=(0, 0, 0, 255))
    return im


def jpeg_q70_white_bytes(image: Image.Image, seed: int = 0) -> bytes:
    """Flatten onto white and encode as baseline JPEG quality 70 (4:2:0), as bytes."""
    return _encode(flatten_white(image), "JPEG", quality=70)


def jpeg_q70_white(image: Image.Image, seed: int = 0) -> Image.Image:
    """Flatten onto white, JPEG quality 70, decode again (RGB)."""
    return _decode(jpeg_q70_white_bytes(image, seed))


def shrink_70(image: Image.Image, seed: int = 0) -> Image.Image:
    """Scale to 70 % (LANCZOS) and centre in a transparent canvas of the original size."""
    im = _rgba(image)
    w, h = im.size
    small = im.resize((max(1, round(w * 0.7)), max(1, round(h * 0.7))), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    canvas.paste(small, ((w - small.width) // 2, (h - small.height) // 2))
    return canvas


def pad_20(image: Image.Image, seed: int = 0) -> Image.Image:
    """Add a transparent margin of 20 % of each side's length on every side (1.4x canvas)."""
    im = _rgba(image)
    w, h = im.size
    mx, my = round(w * 0.2), round(h * 0.2)
    canvas = Image.new("RGBA", (w + 2 * mx, h + 2 * my), (0, 0, 0, 0))
    canvas.paste(im, (mx, my))
    return canvas


def trim(image: Image.Image, seed: int = 0) -> Image.Image:
    """Crop away fully transparent margins (bounding box of alpha > 0)."""
    im = _rgba(image)
    box = im.getchannel("A").getbbox()
    return im.crop(box) if box else im


def crop_5(image: Image.Image, seed: int = 0) -> Image.Image:
    """Cut 5 % off every side."""
    im = _rgba(image)
    w, h = im.size
    dx, dy = round(w * 0.05), round(h * 0.05)
    return im.crop((dx, dy, w - dx, h - dy))


TRANSFORMS: dict[str, Transform] = {
    "identity": identity,
    "webp_q50": webp_q50,
    "resize_256": resize_256,
    "resize_128": resize_128,
    "mirror": mirror,
    "rotate_90": rotate_90,
    "flatten_white": flatten_white,
    "flatten_black": flatten_black,
    "flatten_random": flatten_random,
    "alpha_reflatten": alpha_reflatten,
    "noise_background": noise_background,
    "jpeg_q70_white": jpeg_q70_white,
    "shrink_70": shrink_70,
    "pad_20": pad_20,
    "trim": trim,
    "crop_5": crop_5,
    "emoji_overlay": emoji_overlay,
    "text_overlay": text_overlay,
}

_ENCODED: dict[str, tuple[Callable[..., bytes], str]] = {
    "webp_q50": (webp_q50_bytes, "webp"),
    "jpeg_q70_white": (jpeg_q70_white_bytes, "jpeg"),
}


def apply(name: str, image: Image.Image, seed: int = 0) -> Image.Image:
    """Run the transform called ``name``; raises KeyError listing the known names."""
    try:
        fn = TRANSFORMS[name]
    except KeyError:
        raise KeyError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}") from None
    return fn(image, seed)


def apply_bytes(name: str, image: Image.Image, seed: int = 0) -> tuple[bytes, str]:
    """The transformed image as file bytes and their extension.

    Re-encoding transforms give their own encoding (``webp``/``jpeg``); the others
    are saved losslessly as PNG. Raises KeyError for an unknown name.
    """
    if name in _ENCODED:
        fn, ext = _ENCODED[name]
        return fn(image, seed), ext
    return _encode(apply(name, image, seed), "PNG"), "png"


# ---------------------------------------------------------------- animations (bytes)

#: Lossy quality of re-encoded animated WebP (what sticker apps typically send).
ANIMATION_QUALITY = 80


def _frames(data: bytes) -> list[tuple[Image.Image, int]]:
    """Every frame of an animation (any format ``media.decode`` reads) as (RGBA, duration ms)."""
    from .media import decode  # lazy: transforms stay importable without the media stack

    decoded = decode(data, name="<animation>")
    return [(f.image, max(1, round(f.duration_ms))) for f in decoded.frames]


def _encode_animation(frames: list[tuple[Image.Image, int]]) -> bytes:
    buf = io.BytesIO()
    images = [im for im, _d in frames]
    images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=[d for _im, d in frames],
                   loop=0, quality=ANIMATION_QUALITY, method=0)
    return buf.getvalue()


def anim_reencode(data: bytes, seed: int = 0) -> bytes:
    """Re-encode an animation (WebP, GIF, APNG, .tgs...) as lossy animated WebP, all frames kept."""
    return _encode_animation(_frames(data))


def frame_drop(data: bytes, seed: int = 0) -> bytes:
    """Drop a seeded third of the frames (never the first), as animated WebP.

    Each dropped frame's duration is added to the kept frame before it, so the total
    duration is unchanged. Frames dropped: ``random.Random(seed).sample`` of
    ``len // 3`` indexes among 1..n-1.
    """
    frames = _frames(data)
    drop = set(random.Random(seed).sample(range(1, len(frames)), len(frames) // 3)) if len(frames) > 1 else set()
    kept: list[tuple[Image.Image, int]] = []
    for i, (im, d) in enumerate(frames):
        if i in drop:
            kept[-1] = (kept[-1][0], kept[-1][1] + d)
        else:
            kept.append((im, d))
    return _encode_animation(kept)


def speed_2x(data: bytes, seed: int = 0) -> bytes:
    """Play twice as fast: every frame duration halved (at least 1 ms), as animated WebP."""
    return _encode_animation([(im, max(1, round(d / 2))) for im, d in _frames(data)])


ANIMATION_TRANSFORMS: dict[str, Callable[..., bytes]] = {
    "anim_reencode": anim_reencode,
    "frame_drop": frame_drop,
    "speed_2x": speed_2x,
}


def apply_animation(name: str, data: bytes, seed: int = 0) -> bytes:
    """Run the animation transform ``name`` on file bytes; returns animated WebP bytes.

    Raises KeyError listing the known names, and whatever ``media.decode`` raises for
    unreadable input (DecodeError, UnsupportedMedia, LimitExceeded).
    """
    try:
        fn = ANIMATION_TRANSFORMS[name]
    except KeyError:
        raise KeyError(f"unknown animation transform {name!r}; known: {', '.join(ANIMATION_TRANSFORMS)}") from None
    return fn(data, seed)
