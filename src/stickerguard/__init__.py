"""stickerguard: recognise known abuse stickers and media after re-encoding, resizing,
mirroring, re-padding or re-flattening, by matching PDQ (plain and canonical sticker
PDQ), MD5 and SHA-256 against banks (hash lists).

Pipeline: ``media`` (sniff, decode, packs) -> ``signals`` (hashes) -> ``store``/``banks``
(hash lists) -> ``index``/``match`` (faiss range search) -> ``cli``.
"""

__version__ = "0.1.0"
