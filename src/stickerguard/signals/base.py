"""Signal types: one small class per hash kind (after python-threatexchange's SignalType)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import ClassVar

_HEX_ANYCASE = re.compile(r"[0-9a-fA-F]*")

#: Canvas regions an occluded ``sticker_pdq`` can have erased (``signals.occlusion``).
#: A bank signal's ``region`` is one of these or None (the whole drawing); the index
#: stores a region as its position here plus 1 (0 = None).
REGIONS: tuple[str, ...] = ("top_left", "top_right", "bottom_right", "bottom_left", "bottom", "top")


def hamming(a: str, b: str) -> int:
    """Hamming distance in bits between two equal-length hex strings.

    Raises ValueError if the lengths differ or either is not hex (digits 0-9, a-f,
    A-F only: no ``0x`` prefix, sign, underscore or whitespace).
    """
    if len(a) != len(b):
        raise ValueError(f"hash lengths differ: {len(a)} vs {len(b)} hex chars")
    for value in (a, b):
        if not _HEX_ANYCASE.fullmatch(value):
            raise ValueError(f"not a hex string: {value!r}")
    return (int(a, 16) ^ int(b, 16)).bit_count()


class SignalType(ABC):
    """One kind of signal.

    Attributes:
        name: stable name used in banks, hash lists and output (python-threatexchange
            names where one exists: ``pdq``; ``md5``/``sha256`` are exact file hashes).
        hex_len: length of a valid value in hex characters.
        default_threshold: default match distance (bits for PDQ; 0 = exact).
        perceptual: True when matched by Hamming distance, False when exact.
    """

    name: ClassVar[str]
    hex_len: ClassVar[int]
    default_threshold: ClassVar[int]
    perceptual: ClassVar[bool]
    _HEX = re.compile(r"^[0-9a-f]+$")

    def validate(self, value: str) -> str:
        """Return ``value`` normalised to lowercase hex; raise ValueError naming the problem."""
        v = value.strip().lower()
        if len(v) != self.hex_len or not self._HEX.match(v):
            raise ValueError(f"not a {self.hex_len}-hex-digit {self.name} hash: {value!r}")
        return v

    @abstractmethod
    def distance(self, a: str, b: str) -> int:
        """Distance between two valid values (bits for perceptual types, 0/1 for exact)."""


class PdqSignal(SignalType):
    """Plain 256-bit PDQ, 64 hex chars; Hamming distance in bits; threshold 31 (Meta's default)."""

    name = "pdq"
    hex_len = 64
    default_threshold = 31
    perceptual = True

    def distance(self, a: str, b: str) -> int:
        return hamming(a, b)


class StickerPdqSignal(PdqSignal):
    """Canonical sticker PDQ: PDQ of the sticker after ``canonicalize`` (same 256-bit space)."""

    name = "sticker_pdq"


class _ExactSignal(SignalType):
    default_threshold = 0
    perceptual = False

    def distance(self, a: str, b: str) -> int:
        return 0 if a == b else 1


class Md5Signal(_ExactSignal):
    """MD5 of the file bytes, 32 hex chars; exact match only."""

    name = "md5"
    hex_len = 32


class Sha256Signal(_ExactSignal):
    """SHA-256 of the file bytes, 64 hex chars; exact match only."""

    name = "sha256"
    hex_len = 64


SIGNAL_TYPES: dict[str, SignalType] = {
    s.name: s for s in (PdqSignal(), StickerPdqSignal(), Md5Signal(), Sha256Signal())
}


def signal_type(name: str) -> SignalType:
    """Look up a signal type by name; raises KeyError listing the known names."""
    try:
        return SIGNAL_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown signal type {name!r}; known: {', '.join(SIGNAL_TYPES)}") from None
