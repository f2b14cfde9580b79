"""Command line: ``stickerguard hash | scan | bank ... | demo``.

Thin by design: each command parses its arguments, calls one core function and renders
the result (Rich table on a terminal, ``--json``/``--jsonl`` for machines). Exit codes
follow grep: 0 no match, 1 match, 2 error. ``main(argv)`` runs in-process for tests.
"""

from __future__ import annotations

import sys

from . import bank, commands, serve  # noqa: F401  (register the commands on ``app``)
from .app import app


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stickerguard`` console script; returns the exit code (0/1/2)."""
    try:
        app(args=argv, prog_name="stickerguard", standalone_mode=True)
    except SystemExit as exc:  # typer/click always exit through SystemExit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    return 0


__all__ = ["app", "main"]
