"""Shared CLI objects: the Typer apps, consoles, common options and helpers.

Commands live in ``commands.py`` (hash, scan), ``bank.py`` (bank ..., demo).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import StickerguardError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Match stickers and media against banks of known hashes (PDQ, sticker PDQ, MD5, SHA-256).",
)
bank_app = typer.Typer(no_args_is_help=True, help="Create, import, export and inspect banks (hash lists).")
app.add_typer(bank_app, name="bank")

# Piped output is for grep and logs: wide, so tables don't wrap hashes and paths.
out = Console()
if not out.is_terminal:
    out = Console(width=240)
err = Console(stderr=True, soft_wrap=True)  # one error, one line: greppable

DbOpt = Annotated[
    Optional[str],
    typer.Option("--db", envvar="STICKERGUARD_DB", help="SQLAlchemy URL (default: SQLite in the user data dir)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
JsonlOpt = Annotated[bool, typer.Option("--jsonl", help="One JSON object per line on stdout.")]
SignalKeyOpt = Annotated[
    Optional[list[str]],
    typer.Option("--signal-key", help="Signal pack key as PACK=HEX (pack folder or id, 64 hex chars)."),
]


def _fail(exc: BaseException, as_json: bool = False) -> typer.Exit:
    """Print an error (JSON with a stable code when asked) and return Exit(2)."""
    if isinstance(exc, StickerguardError):
        payload = exc.to_dict()
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        payload = {"error": "io_error", "message": f"{exc.filename}: {exc.strerror[0].lower()}{exc.strerror[1:]}",
                   "path": str(exc.filename)}
    else:
        payload = {"error": "error", "message": str(exc)}
    if as_json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        err.print(f"[red]error:[/red] {payload['message']}", highlight=False, markup=True)
    return typer.Exit(2)


def _open(db_url: str | None):
    from ..store import open_db

    return open_db(db_url)


def _keys(pairs: list[str] | None) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in pairs or []:
        pack, sep, key = pair.partition("=")
        if not sep or not pack or not key:
            raise typer.BadParameter(f"--signal-key wants PACK=HEX, got {pair!r}")
        keys[pack] = key.strip()
    return keys


def _progress(total_hint: str = "stickers") -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


