"""Decode Telegram animated stickers (``.tgs``: gzip-compressed Lottie JSON) with rlottie.

Rendering is the costly part (a few ms per 512x512 frame), so only the frames chosen by
the sampler are rendered; every Lottie frame is self-contained, so nothing is lost.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from io import BytesIO

from PIL import Image
from rlottie_python import LottieAnimation

from ..errors import DecodeError, LimitExceeded
from .limits import Limits, check_duration, check_frames
from .sampling import Spread, make_sampler
from .types import DecodedMedia, Frame

RENDER_SIZE = 512  # Telegram's sticker canvas; larger Lotties are rendered scaled down to fit.
REQUIRED_KEYS = ("v", "fr", "ip", "op", "w", "h", "layers")


def gunzip_capped(data: bytes, cap: int, *, name: str) -> bytes:
    """Gunzip ``data`` streaming, stopping as soon as the output passes ``cap`` bytes.

    Raises:
        LimitExceeded: more than ``cap`` decompressed bytes (field ``max_tgs_json_bytes``).
        DecodeError: truncated or corrupt gzip stream.
    """
    try:
        with gzip.GzipFile(fileobj=BytesIO(data), mode="rb") as gz:
            out = gz.read(cap + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DecodeError(f"truncated or corrupt tgs (gzip): {exc}", path=name) from exc
    if len(out) > cap:
        raise LimitExceeded(
            f"decompressed Lottie JSON is over {cap} bytes (max_tgs_json_bytes); stopped after {len(out)} bytes",
            path=name,
            field="max_tgs_json_bytes",
        )
    return out


def parse_lottie(raw: bytes, *, name: str) -> dict:
    """Parse Lottie JSON bytes and check the keys and values rendering relies on.

    Returns the parsed dict. Raises DecodeError naming the missing key or bad value.
    """
    try:
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError as exc:
        raise LimitExceeded(
            "Lottie JSON nests deeper than the JSON parser allows (about 1000 levels; max_lottie_depth)",
            path=name, field="max_lottie_depth",
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"tgs does not hold valid JSON: {exc}", path=name) from exc
    if not isinstance(doc, dict):
        raise DecodeError(f"tgs JSON is a {type(doc).__name__}, not a Lottie object", path=name)
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing:
        raise DecodeError(f"not a Lottie animation: missing keys {missing}", path=name)
    for key in ("fr", "ip", "op", "w", "h"):
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DecodeError(f"Lottie {key!r} is not a number: {value!r}", path=name)
    if doc["fr"] <= 0 or doc["w"] <= 0 or doc["h"] <= 0:
        raise DecodeError(f"Lottie fr/w/h must be positive, got fr={doc['fr']} w={doc['w']} h={doc['h']}", path=name)
    if doc["op"] <= doc["ip"]:
        raise DecodeError(f"Lottie op ({doc['op']}) is not after ip ({doc['ip']})", path=name)
    if not isinstance(doc["layers"], list):
        raise DecodeError("Lottie 'layers' is not a list", path=name)
    return doc


def json_depth(doc: object, cap: int) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[]`` is 1), counted iteratively;
    stops and returns ``cap + 1`` as soon as the depth passes ``cap``."""
    deepest = 0
    stack: list[tuple[object, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth += 1
        if depth > cap:
            return depth
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


def expanded_layer_count(doc: dict, cap: int, *, name: str) -> int:
    """Layers rlottie would build: root layers plus, for every precomp layer (``ty`` 0),
    the expanded layers of the asset its ``refId`` names (so a precomp used N times counts
    N times). Stops growing past ``cap`` (returns a value > cap).

    Raises DecodeError when precomps refer to each other in a cycle.
    """
    assets = {}
    for asset in doc.get("assets") or []:
        if isinstance(asset, dict) and isinstance(asset.get("layers"), list):
            assets[str(asset.get("id"))] = asset["layers"]
    memo: dict[str, int] = {}
    visiting: list[str] = []

    def count(layers: list) -> int:
        total = 0
        for layer in layers:
            total += 1
            if isinstance(layer, dict) and layer.get("ty") == 0 and str(layer.get("refId")) in assets:
                total += expand(str(layer.get("refId")))
            if total > cap:
                return cap + 1
        return total

    def expand(ref: str) -> int:
        if ref in memo:
            return memo[ref]
        if ref in visiting:
            chain = " -> ".join([*visiting[visiting.index(ref):], ref])
            raise DecodeError(f"Lottie precomps refer to each other in a cycle: {chain}", path=name)
        if len(visiting) > cap:  # a chain longer than the layer cap is over it anyway
            return cap + 1
        visiting.append(ref)
        memo[ref] = count(assets[ref])
        visiting.pop()
        return memo[ref]

    return count(doc["layers"])


def check_lottie_structure(doc: dict, limits: Limits, *, name: str) -> None:
    """Refuse pathological Lottie structure before rlottie sees it.

    Raises:
        LimitExceeded: JSON nesting over ``max_lottie_depth``; expanded layer count over
            ``max_lottie_layers``.
        DecodeError: precomp reference cycle.
    """
    depth = json_depth(doc, limits.max_lottie_depth)
    if depth > limits.max_lottie_depth:
        raise LimitExceeded(
            f"Lottie JSON nests at least {depth} levels deep, over the limit of "
            f"{limits.max_lottie_depth} (max_lottie_depth)",
            path=name, field="max_lottie_depth",
        )
    layers = expanded_layer_count(doc, limits.max_lottie_layers, name=name)
    if layers > limits.max_lottie_layers:
        raise LimitExceeded(
            f"Lottie has at least {layers} layers once precomps are expanded, over the limit of "
            f"{limits.max_lottie_layers} (max_lottie_layers)",
            path=name, field="max_lottie_layers",
        )


def render_size(width: float, height: float) -> tuple[int, int]:
    """Render size in pixels: the Lottie's own size, scaled down to fit RENDER_SIZE."""
    scale = min(1.0, RENDER_SIZE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_tgs(data: bytes, *, name: str, limits: Limits, sample_interval_ms: float | None,
               spread: Spread | None = None) -> DecodedMedia:
    """Decode a ``.tgs`` to RGBA frames rendered by rlottie (straight, not premultiplied, alpha).

    Frame count is ``op - ip`` (rounded up), fps is the Lottie ``fr``, frame ``i`` is shown
    at ``i * 1000 / fps`` ms for ``1000 / fps`` ms. Only sampled frames are rendered
    (``sample_interval_ms``, or ``spread`` over the known duration: see ``media.sampling``).

    Raises:
        LimitExceeded: max_tgs_json_bytes, max_lottie_depth, max_lottie_layers,
            max_frames, max_duration_ms.
        DecodeError: bad gzip, bad JSON, missing Lottie keys, precomp cycle, or rlottie
            refusing the file.
    """
    raw = gunzip_capped(data, limits.max_tgs_json_bytes, name=name)
    doc = parse_lottie(raw, name=name)
    check_lottie_structure(doc, limits, name=name)
    fps = float(doc["fr"])
    frame_count = max(1, math.ceil(doc["op"] - doc["ip"] - 1e-9))
    check_frames(frame_count, limits, name)
    frame_ms = 1000.0 / fps
    duration = frame_count * frame_ms
    check_duration(duration, limits, name)
    width, height = render_size(doc["w"], doc["h"])
    sampler = make_sampler(sample_interval_ms, spread, duration, width * height)
    text = raw.decode("utf-8")  # already validated by parse_lottie
    frames: list[Frame] = []
    with LottieAnimation.from_data(text) as anim:
        if not anim.animation_p:
            raise DecodeError("rlottie could not load the Lottie animation", path=name)
        for index in range(frame_count):
            timestamp = index * 1000.0 / fps
            if not sampler.keep(index, timestamp, frame_ms):
                continue
            buf = anim.lottie_animation_render(frame_num=index, width=width, height=height)
            # rlottie draws premultiplied BGRA; Pillow's "BGRa" raw mode un-premultiplies.
            image = Image.frombuffer("RGBA", (width, height), buf, "raw", "BGRa", 0, 1)
            frames.append(Frame(image=image, index=index, timestamp_ms=timestamp, duration_ms=frame_ms))
    return DecodedMedia(
        format="tgs",
        width=width,
        height=height,
        animated=frame_count > 1,
        frames=frames,
        frame_count=frame_count,
        duration_ms=duration,
    )
