"""Sniff the real media format from magic bytes (never from the file extension)."""
# OWNER: media helper. Contract: sniff(data: bytes, *, name: str = "<bytes>") -> str
# returning one of: webp png jpeg gif bmp tgs webm mp4 zip; raises UnsupportedMedia
# (empty file -> DecodeError "empty file").


def sniff(data: bytes, *, name: str = "<bytes>") -> str:  # pragma: no cover - stub
    raise NotImplementedError
