"""Data shapes passed between decoding, pack reading and hashing.

Kept free of logic so that every stage (and, later, an isolated decoder worker) can
exchange them without import cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image


@dataclass
class Frame:
    """One composited frame, as a viewer would show it.

    Attributes:
        image: RGBA ``PIL.Image`` of the full canvas (disposal and blending applied).
        index: 0-based index of the frame in the source animation (static images: 0).
        timestamp_ms: when the frame is first shown, in milliseconds from the start.
        duration_ms: how long it stays on screen, in milliseconds (static images: 0).
    """

    image: Image.Image
    index: int = 0
    timestamp_ms: float = 0.0
    duration_ms: float = 0.0


@dataclass
class DecodedMedia:
    """The result of decoding one file.

    Attributes:
        format: sniffed format name: ``webp png jpeg gif bmp tgs webm mp4`` (see ``sniff``).
        width, height: canvas size in pixels.
        animated: True when the source has more than one frame.
        frames: the frames kept (all frames, or the sampled subset when the caller
            asked for a sample interval), in display order.
        frame_count: number of frames in the source, before sampling.
        duration_ms: total display duration in milliseconds (0 for static images).
    """

    format: str
    width: int
    height: int
    animated: bool
    frames: list[Frame]
    frame_count: int = 1
    duration_ms: float = 0.0


@dataclass(frozen=True)
class PackInfo:
    """Identity and metadata of the pack a sticker came from.

    Attributes:
        kind: ``whatsapp`` (sticker-app folder with contents.json), ``wastickers``
            (zip), ``telegram`` (sticker-set folder), ``signal`` (manifest + encrypted
            blobs), ``folder`` (plain folder) or ``file`` (a single file).
        identifier: the pack's own id (WhatsApp ``identifier``, Telegram set ``name``,
            Signal pack id) or, for folders and files, their path.
        name: human title (WhatsApp ``name``, Telegram ``title``, Signal ``title``).
        publisher: WhatsApp ``publisher`` / Signal ``author``.
        animated: WhatsApp ``animated_sticker_pack`` when given.
        source: filesystem path of the pack root, archive or file.
    """

    kind: str
    identifier: str
    name: str | None = None
    publisher: str | None = None
    animated: bool | None = None
    source: str = ""


@dataclass
class Sticker:
    """One sticker's raw bytes plus provenance (pack -> sticker -> emoji).

    Attributes:
        path: display path; archive members are ``archive.wastickers!member.webp``.
        name: the file name inside its pack (``image_file`` for WhatsApp).
        data: the raw file bytes (MD5/SHA-256 are taken over these exact bytes).
        pack: the pack it belongs to.
        emojis: emojis attached to it by the pack manifest, in manifest order.
        sticker_id: Telegram ``file_unique_id`` or Signal sticker id, when known.
        is_tray: True for a WhatsApp tray icon / Signal cover rather than a sticker.
    """

    path: str
    name: str
    data: bytes
    pack: PackInfo
    emojis: tuple[str, ...] = ()
    sticker_id: str | None = None
    is_tray: bool = False


@dataclass
class SourceError:
    """A path that could not be read as a pack or file; the walk goes on after it."""

    path: str
    error: Exception
    extra: dict = field(default_factory=dict)
