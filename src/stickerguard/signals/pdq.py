"""Plain PDQ, computed the way Meta's reference does."""
# OWNER: signals helper.
from __future__ import annotations

from PIL import Image


def hash_image(image: Image.Image) -> tuple[str, int]:  # pragma: no cover - stub
    raise NotImplementedError


def hash_image_dihedral(image: Image.Image) -> tuple[tuple[str, ...], int]:  # pragma: no cover
    raise NotImplementedError
