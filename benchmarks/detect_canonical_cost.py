"""CPU cost of the sticker canonical form per static sticker, with a full-resolution Pillow anchor.

``python -m benchmarks.detect_canonical_cost [--repeat N] [FILES...]``

Default files: the 25 Cuppy stickers (``../shared/corpus`` or ``tests/data``), decoded
once with ``media.decode``. Per repeat, CPU time (``time.process_time``) per file of
running each of these over all files in a row (the two alternate):

* ``canonicalize`` (what a query pays);
* the anchor: the same drawing's moment square cut with Pillow at full resolution
  (``alpha_composite`` onto white, then ``resize(64, BICUBIC, box=...)``), i.e. how the
  canonical form was computed before ``signals.canonkern`` (3.4 ms on a quiet core).

Prints one JSON object: the median over repeats of ms per sticker of both, and their
ratio. Both run in the same process, alternating, so machine load hits both alike;
quote the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from stickerguard.media import decode
from stickerguard.signals.canonical import _render, canonicalize, moment_box

from .distractors import pack_corpus


def _anchor(rgba: Image.Image) -> Image.Image:
    """Full-resolution Pillow canonical cut: mask moments, composite onto white, BICUBIC 64x64."""
    box = moment_box(np.asarray(rgba.getchannel("A")) > 32)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return _render(flat, box, 64)  # white outside the frame, BICUBIC


def main(argv: list[str] | None = None) -> int:
    """Measure and print the JSON summary; returns 0."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.detect_canonical_cost")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args(argv)
    files = [Path(f) for f in args.files] or sorted((pack_corpus() / "whatsapp-sample-packs" / "1").glob("*.webp"))
    frames = [decode(f.read_bytes(), name=str(f)).frames[0].image for f in files]
    canonicalize(frames[0])  # numba: load or compile the kernels first
    ours, anchor = [], []
    for _ in range(args.repeat):  # each method over all files in a row, alternating
        for fn, out in ((canonicalize, ours), (_anchor, anchor)):
            t = time.process_time()
            for im in frames:
                fn(im)
            out.append((time.process_time() - t) / len(frames))
    a, b = statistics.median(ours) * 1000, statistics.median(anchor) * 1000
    print(json.dumps({"files": len(frames), "repeat": args.repeat, "canonicalize_ms": round(a, 3),
                      "pillow_full_resolution_ms": round(b, 3), "ratio": round(a / b, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
