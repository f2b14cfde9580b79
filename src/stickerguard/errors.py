"""Typed errors shared by every pipeline stage.

Every error carries a stable machine-readable ``code`` (used by ``--json`` output and,
later, by the HTTP API) and, where known, the ``path`` of the file and the ``line`` or
``field`` that was wrong. ``str(err)`` is a one-line human message that already names
the file, e.g. ``"bad.txt:3: not a 64-hex-digit PDQ hash: 'zz'"``.
"""

from __future__ import annotations


class StickerguardError(Exception):
    """Base class. ``code`` is stable across releases; ``message`` is for people.

    Args:
        message: what went wrong, without the file name (it is prefixed from ``path``).
        path: the file (or archive member, as ``archive!member``) the error is about.
        line: 1-based line number inside ``path``, for text formats.
        field: the field or limit name involved, e.g. ``"stickers[3].image_file"``.
    """

    code = "error"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: ``{"error": code, "message": str, "path", "line", "field"}``."""
        out: dict[str, object] = {"error": self.code, "message": str(self)}
        for key in ("path", "line", "field"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class UnsupportedMedia(StickerguardError):
    """The bytes are not a format stickerguard decodes (sniffed from magic bytes)."""

    code = "unsupported_media"


class DecodeError(StickerguardError):
    """The format is supported but the file is corrupt, truncated or empty."""

    code = "decode_error"


class LimitExceeded(StickerguardError):
    """A configured safety limit (bytes, pixels, frames, duration, zip ratio...) was hit."""

    code = "limit_exceeded"


class PackError(StickerguardError):
    """A sticker pack (manifest, archive, Signal blob) is malformed or fails its MAC."""

    code = "pack_error"


class HashListError(StickerguardError):
    """A hash-list file has a bad line or column; nothing from that file is imported."""

    code = "hash_list_error"


class BankError(StickerguardError):
    """A bank operation failed: unknown bank, duplicate name, bad threshold."""

    code = "bank_error"
