"""Signal shapes: the hashes of one file, per frame."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FrameSignals:
    """PDQ hashes of one (sampled) frame.

    Attributes:
        index: frame index in the source animation (0 for static images).
        timestamp_ms: when the frame is shown, in ms from the start.
        pdq: plain 256-bit PDQ as 64 lowercase hex chars (image flattened the way
            Meta's reference does, after shrinking to fit 512x512).
        quality: PDQ quality of ``pdq``, 0..100 (below 50 is not trustworthy).
        canonical_pdq: sticker canonical PDQ (64 hex chars), see ``canonicalize``;
            None if the frame is empty after canonicalisation.
        canonical_quality: PDQ quality of ``canonical_pdq`` (0 when None).
        pdq_dihedral: the 8 dihedral variants of ``pdq`` (index 0 is ``pdq`` itself),
            in pdqhash's ``compute_dihedral`` order; used only for querying.
        canonical_dihedral: the same for ``canonical_pdq`` (empty when it is None).
        canonical_variants: canonical PDQs of this frame flattened onto white and onto
            black (frames with transparency only; duplicates and copies of
            ``canonical_pdq`` left out; see
            ``canonical.canonical_variants``). Banks store them as extra
            ``sticker_pdq`` values so that queries a client already flattened match.
        canonical_occluded: occluded canonical PDQs (static frames with transparency;
            ``signals.occlusion``): ``(region, pdq_hex, quality, share)`` per erased
            region, ``share`` the fraction (0..1) of the drawing's alpha it held. Banks
            store every region; queries only regions holding more than 3 %.
    """

    index: int
    timestamp_ms: float
    pdq: str
    quality: int
    canonical_pdq: str | None
    canonical_quality: int
    pdq_dihedral: tuple[str, ...] = ()
    canonical_dihedral: tuple[str, ...] = ()
    canonical_variants: tuple[str, ...] = ()
    canonical_occluded: tuple[tuple[str, str, int, float], ...] = ()


@dataclass
class MediaSignals:
    """Every signal of one file.

    Attributes:
        md5, sha256: lowercase hex digests of the exact file bytes.
        format: sniffed format (``webp``, ``tgs``, ...).
        width, height: canvas size in pixels.
        animated: True for animations (then ``frames`` holds the sampled frames).
        frame_count: frames in the source before sampling.
        duration_ms: total duration in ms (0 for static images).
        frames: per-frame PDQ signals, at least one, in display order.
    """

    md5: str
    sha256: str
    format: str
    width: int
    height: int
    animated: bool
    frame_count: int
    duration_ms: float
    frames: list[FrameSignals] = field(default_factory=list)

    @property
    def pdq(self) -> str:
        """Plain PDQ of the first kept frame (the representative hash of a static image)."""
        return self.frames[0].pdq

    @property
    def quality(self) -> int:
        """PDQ quality of :attr:`pdq`."""
        return self.frames[0].quality
