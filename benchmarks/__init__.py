"""Benchmarks: ``python -m benchmarks NAME`` (or ``stickerguard bench NAME``) regenerates
one table and its plots under ``docs/``. Each module exposes ``main(argv) -> int``."""
