"""Named, seeded image transforms: the edits a sticker survives in the wild.

Used by the robustness tests, the CLI demo and the benchmarks. Every transform is
``fn(image, seed=0) -> PIL.Image`` and deterministic for a given seed (only
``flatten_random`` uses it). Inputs are any Pillow image; outputs are RGBA unless the
transform flattens (then RGB). Re-encoding transforms return the decoded result;
:func:`apply_bytes` gives the encoded file bytes instead (what a client would send).

Public surface::

    TRANSFORMS: dict[name, fn]       # insertion order is the report order
    apply(name, image, seed=0) -> Image
    apply_bytes(name, image, seed=0) -> (bytes, ext)   # "webp" / "jpeg" / "png"
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image

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
    "mirror": mirror,
    "rotate_90": rotate_90,
    "flatten_white": flatten_white,
    "flatten_black": flatten_black,
    "flatten_random": flatten_random,
    "jpeg_q70_white": jpeg_q70_white,
    "shrink_70": shrink_70,
    "pad_20": pad_20,
    "trim": trim,
    "crop_5": crop_5,
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
