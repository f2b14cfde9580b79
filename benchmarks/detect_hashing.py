"""Detection benchmark, worker side: make one query or bank file and hash it three ways.

One job = one file: a known item's original (bank side), a known item after one named
transform (query), or a distractor as it is (query). It is hashed by

* ``hma``: python-threatexchange's ``PdqSignal.hash_from_bytes`` (what HMA runs: Pillow
  open, first frame, RGB of whatever lies under transparent pixels, PDQ; "" when the
  quality is below 50 or the bytes do not open as an image);
* stickerguard: ``signals.hash_bytes`` (plain PDQ and canonical sticker PDQ per sampled
  frame; ``variants=True`` on the bank side so the flattened variants exist, as
  ``banks.add_media`` stores them; ``variants=False`` for queries, as a scan does).

Jobs run in worker processes (``ProcessPoolExecutor``); everything returned is picklable.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from stickerguard.signals import MediaSignals, hash_bytes
from stickerguard.transforms import apply, apply_animation, apply_bytes

#: Transforms whose own encoding is the point (their bytes come from ``apply_bytes``).
ENCODING_TRANSFORMS = ("webp_q50", "jpeg_q70_white")


@dataclass(frozen=True)
class Job:
    """One file to make and hash.

    Attributes:
        key: index of the job in the run (results are matched back by it).
        path: the corpus file (normalised PNG, or an original sticker file).
        transform: a name from ``transforms.TRANSFORMS`` / ``ANIMATION_TRANSFORMS``,
            ``identity`` (the file's own bytes for animations and distractors, the PNG
            re-encoded otherwise) or ``bank`` (original bytes, bank-side hashing).
        seed: transform seed.
        animated: the item is an animation (animation transforms apply to bytes).
    """

    key: int
    path: str
    transform: str
    seed: int
    animated: bool


@dataclass
class Hashed:
    """Hashes of one job: ``hma`` (64 hex or "" = no usable hash), ``sg`` (None on error)."""

    key: int
    hma: str
    sg: MediaSignals | None
    error: str = ""


def make_bytes(job: Job) -> bytes:
    """The file bytes a client would send for ``job`` (see :class:`Job`)."""
    data = Path(job.path).read_bytes()
    if job.transform in ("bank", "identity"):
        return data
    if job.animated:
        return apply_animation(job.transform, data, job.seed)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if job.transform in ENCODING_TRANSFORMS:
            return apply_bytes(job.transform, im, job.seed)[0]
        buf = io.BytesIO()  # lossless PNG like apply_bytes, at the fastest zlib level
        apply(job.transform, im, job.seed).save(buf, "PNG", compress_level=1)
        return buf.getvalue()


def hma_hash(data: bytes) -> str:
    """python-threatexchange ``PdqSignal.hash_from_bytes``; "" when it gives no usable hash."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    try:
        return PdqSignal.hash_from_bytes(data) or ""
    except Exception:  # HMA cannot open it (e.g. a .tgs): no PDQ, hence no PDQ match
        return ""


def run_job(job: Job) -> Hashed:
    """Make and hash one file; a failure becomes ``Hashed(error=...)`` instead of raising."""
    try:
        data = make_bytes(job)
    except Exception as exc:
        return Hashed(job.key, "", None, f"transform {job.transform}: {type(exc).__name__}: {exc}")
    hma = hma_hash(data)
    try:
        sg = hash_bytes(data, name=f"{job.path}:{job.transform}", variants=job.transform == "bank")
    except Exception as exc:
        return Hashed(job.key, hma, None, f"hash: {type(exc).__name__}: {exc}")
    return Hashed(job.key, hma, sg)


def run_chunk(jobs: list[Job]) -> list[Hashed]:
    """:func:`run_job` over a list (one pickling round trip per chunk)."""
    return [run_job(j) for j in jobs]
