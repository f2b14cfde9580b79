"""``stickerguard bank ...`` and ``stickerguard demo`` commands (thin: render core results)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from .app import DbOpt, JsonOpt, SignalKeyOpt, _fail, _keys, _open, app, bank_app, err, out
from ..errors import StickerguardError


def _bank_dict(info) -> dict:
    d = asdict(info)
    return {k: v for k, v in d.items()}


@bank_app.command("create")
def bank_create(
    name: Annotated[str, typer.Argument(help="Bank name: letters, digits, '_', '.', '-'.")],
    label: Annotated[Optional[list[str]], typer.Option("--label", "-l", help="Label (repeatable).")] = None,
    threshold: Annotated[int, typer.Option(help="PDQ match distance in bits (0-256).")] = 31,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an empty bank."""
    from ..banks import create_bank

    try:
        info = create_bank(_open(db), name, labels=tuple(label or ()), threshold=threshold)
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(_bank_dict(info), default=str))
    else:
        out.print(f"created bank {info.name!r} (threshold {info.threshold} bits)", highlight=False)


def _counts(by_type: dict[str, int]) -> str:
    """`` (2 md5, 2 pdq)`` for a signals-by-type count; empty when nothing was added."""
    return f" ({', '.join(f'{n} {t}' for t, n in sorted(by_type.items()))})" if by_type else ""


@bank_app.command("import")
def bank_import(
    name: Annotated[str, typer.Argument(help="Bank to import into.")],
    paths: Annotated[list[Path], typer.Argument(help="Hash-list files, or media files/folders/packs.")],
    fmt: Annotated[str, typer.Option("--format", help="Hash-list format: auto, lines, te-csv, csv.")] = "auto",
    signal_key: SignalKeyOpt = None,
    tray: Annotated[bool, typer.Option(help="Also add pack tray icons.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import hash lists (one transaction per file) or media (hashed, then added at once).

    A path is treated as media when it is a folder or its magic bytes are an image,
    animation, video, .tgs or zip; otherwise as a text hash list.
    """
    from ..banks import import_hash_list
    from ..jobs import import_media, is_media_source

    report: dict = {"bank": name, "hash_lists": [], "media": None}
    try:
        database = _open(db)
        media = [p for p in paths if is_media_source(p)]
        lists = [p for p in paths if p not in media]
        for p in lists:
            res = import_hash_list(database, name, p, format=fmt)
            report["hash_lists"].append({"path": str(p), "records": res.records, "by_type": res.by_type,
                                         "duplicates": res.duplicates})
        if media:
            mi = import_media(database, name, media, signal_keys=_keys(signal_key), include_tray=tray)
            report["media"] = {
                "added": mi.added,
                "signals": mi.signals,
                "duplicates": mi.duplicates,
                "failed": [r.to_dict() for r in mi.failed],
            }
    except (StickerguardError, FileNotFoundError, IsADirectoryError) as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for h in report["hash_lists"]:
        dup = (f", skipped {h['duplicates']} duplicates (already in the bank or repeated in the file)"
               if h["duplicates"] else "")
        out.print(f"{h['path']}: imported {h['records']} hashes{_counts(h['by_type'])}{dup}", highlight=False)
    if report["media"]:
        m = report["media"]
        dup = (f", skipped {m['duplicates']} duplicates (already in the bank or repeated)"
               if m["duplicates"] else "")
        out.print(f"added {m['added']} stickers{_counts(m['signals'])}{dup}", highlight=False)
        for f in m["failed"]:
            err.print(f"skipped {f['error']['message']}", highlight=False)


@bank_app.command("export")
def bank_export(
    name: Annotated[str, typer.Argument(help="Bank to export.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="lines, te-csv or csv.")] = "lines",
    signal_type: Annotated[
        Optional[list[str]], typer.Option("--signal-type", help="Only these signal types (repeatable).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Write a bank's hashes as a hash list."""
    from ..banks import export_hash_list

    try:
        database = _open(db)
        if output is None:
            export_hash_list(database, name, sys.stdout, format=fmt, signal_types=signal_type)
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                export_hash_list(database, name, fh, format=fmt, signal_types=signal_type)
    except StickerguardError as exc:
        raise _fail(exc) from None


@bank_app.command("list")
def bank_list(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """List banks with their thresholds and sizes."""
    from ..banks import list_banks

    try:
        banks = list_banks(_open(db))
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps([_bank_dict(b) for b in banks], default=str))
        return
    table = Table("bank", "labels", "threshold", "enabled", "contents", "signals", box=None, pad_edge=False)
    for b in banks:
        sigs = ", ".join(f"{k} {v}" for k, v in sorted(b.signal_count.items()))
        table.add_row(b.name, ",".join(b.labels), str(b.threshold), str(b.enabled), str(b.content_count), sigs)
    out.print(table)


@bank_app.command("show")
def bank_show(name: str, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Show one bank."""
    from ..banks import get_bank

    try:
        info = get_bank(_open(db), name)
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(_bank_dict(info), default=str))
        return
    for key, value in _bank_dict(info).items():
        out.print(f"{key}: {value}", highlight=False)


@app.command("demo")
def demo_cmd(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    workdir: Annotated[Optional[Path], typer.Option(help="Keep the transformed copies here.")] = None,
) -> None:
    """Build a demo bank from half of the bundled Cuppy pack, then scan transformed copies.

    Known stickers (re-encoded, resized, mirrored, re-flattened, shrunk) should match;
    the other half of the pack and the animated pack should not. Exits 0 when every
    expectation holds, 1 otherwise.
    """
    from ..demo import run_demo

    try:
        report = run_demo(_open(db), workdir=workdir, progress=not as_json and err.is_terminal)
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        table = Table("sticker", "transform", "expected", "got", "bank", "signal", "distance", box=None)
        for row in report.rows:
            ok = "[green]ok[/green]" if row.ok else "[red]WRONG[/red]"
            table.add_row(
                row.sticker, row.transform, "match" if row.expected else "no match",
                f"{'match' if row.matched else 'no match'} {ok}", row.bank or "", row.signal or "",
                "" if row.distance is None else str(row.distance),
            )
        out.print(table)
        out.print(report.headline(), highlight=False)
    raise typer.Exit(0 if report.all_ok else 1)
