"""Sticker canonical form: flatten, trim, re-pad to square."""
# OWNER: signals helper.
from __future__ import annotations

from PIL import Image


def canonicalize(image: Image.Image) -> Image.Image | None:  # pragma: no cover - stub
    raise NotImplementedError
