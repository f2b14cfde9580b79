"""Sniff the real media format from magic bytes (never from the file extension).

Contract: ``sniff(data, *, name="<bytes>") -> str`` returning one of
``webp png jpeg gif bmp tgs webm mp4 zip``.
"""

from __future__ import annotations

from ..errors import DecodeError, UnsupportedMedia

FORMATS = ("webp", "png", "jpeg", "gif", "bmp", "tgs", "webm", "mp4", "zip")

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE_ID = 0x4282
# ISO BMFF major brands that are still images (HEIF / AVIF), not video.
_IMAGE_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# BITMAPINFOHEADER family sizes Pillow's BMP reader accepts (OS/2 v1 .. v5).
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def _read_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """Read one EBML variable-length integer at ``pos``; return (value, new_pos).

    Raises ValueError when the bytes end early or the length marker is invalid.
    """
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8 or pos + length > len(data):
        raise ValueError("bad EBML vint")
    value = first if keep_marker else first & (mask - 1)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    return value, pos + length


def _ebml_doctype(data: bytes) -> str | None:
    """Return the DocType string of the EBML header, or None when absent/unreadable."""
    try:
        size, pos = _read_vint(data, 4, keep_marker=False)
        end = min(len(data), pos + size)
        while pos < end:
            elem_id, pos = _read_vint(data, pos, keep_marker=True)
            elem_size, pos = _read_vint(data, pos, keep_marker=False)
            if elem_id == _EBML_DOCTYPE_ID:
                return data[pos : pos + elem_size].rstrip(b"\x00").decode("ascii", "replace")
            pos += elem_size
    except (ValueError, IndexError):
        return None
    return None


def sniff(data: bytes, *, name: str = "<bytes>") -> str:
    """Return the media format of ``data`` from its magic bytes.

    Args:
        data: the raw file bytes.
        name: file name used in error messages (``path=`` of the error).

    Returns:
        One of ``webp png jpeg gif bmp tgs webm mp4 zip``. ``tgs`` means gzip magic
        (``1f 8b``); the decoder checks that the content is Lottie JSON. ``webm`` covers
        EBML files whose DocType is ``webm`` or ``matroska``. ``mp4`` is any ISO BMFF
        file with an ``ftyp`` box at offset 4 whose major brand is not a still-image
        (HEIF/AVIF) brand. ``zip`` is a local-file or empty-archive zip signature.

    Raises:
        DecodeError: ``"empty file"`` for zero bytes.
        UnsupportedMedia: anything else, naming the first bytes seen in hex.
    """
    if not data:
        raise DecodeError("empty file", path=name)
    head = bytes(data[:16])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and len(data) >= 18 and int.from_bytes(data[14:18], "little") in _BMP_DIB_SIZES:
        return "bmp"
    if head[:2] == b"\x1f\x8b":
        return "tgs"
    if head[:4] == _EBML_MAGIC:
        doctype = _ebml_doctype(bytes(data[:4096]))
        if doctype in ("webm", "matroska"):
            return "webm"
        raise UnsupportedMedia(f"EBML file with DocType {doctype!r}, not webm or matroska", path=name)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            raise UnsupportedMedia(
                f"ISO BMFF still-image brand {brand.decode('ascii', 'replace')!r} (HEIF/AVIF) is not supported",
                path=name,
            )
        return "mp4"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    raise UnsupportedMedia(f"unrecognised format; first bytes: {head[:12].hex(' ')}", path=name)
