"""``stickerguard hash`` and ``stickerguard scan``: hash or match every sticker under some paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from .. import __version__
from ..errors import StickerguardError
from .app import DbOpt, JsonlOpt, JsonOpt, SignalKeyOpt, _fail, _keys, _open, _progress, app, err, out


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"stickerguard {__version__}")
        raise typer.Exit(0)


@app.command("hash")
def hash_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders, archives or packs.")],
    as_json: JsonOpt = False,
    as_jsonl: JsonlOpt = False,
    signal_key: SignalKeyOpt = None,
) -> None:
    """Print signal type, hash and quality for every sticker (and every sampled frame)."""
    from ..isolate import prestart

    prestart()  # decoder workers warm up while the scanner's own modules load
    from ..match.scan import ScanSummary, scan

    summary = ScanSummary()
    results = list(scan(paths, None, signal_keys=_keys(signal_key), summary=summary))
    if as_json or as_jsonl:
        docs = [r.to_dict(with_frames=True) for r in results]
        if as_json:
            print(json.dumps({"results": docs, "summary": summary.to_dict()}, ensure_ascii=False, indent=2))
        else:
            for d in docs:
                print(json.dumps(d, ensure_ascii=False))
    else:
        table = Table("sticker", "frame", "signal", "hash", "quality", box=None, pad_edge=False)
        for r in results:
            if r.signals is None:
                table.add_row(r.path, "", "[red]error[/red]", str(r.error), "")
                continue
            s = r.signals
            table.add_row(r.path, "", "md5", s.md5, "")
            table.add_row(r.path, "", "sha256", s.sha256, "")
            for f in s.frames:
                frame = str(f.index) if s.animated else ""
                table.add_row(r.path, frame, "pdq", f.pdq, str(f.quality))
                if f.canonical_pdq:
                    table.add_row(r.path, frame, "sticker_pdq", f.canonical_pdq, str(f.canonical_quality))
        out.print(table)
    raise typer.Exit(2 if summary.hashed == 0 and (summary.error_count or summary.skipped) else 0)


@app.command("scan")
def scan_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders, archives or packs to scan.")],
    bank: Annotated[Optional[list[str]], typer.Option("--bank", "-b", help="Only these banks (repeatable).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    as_jsonl: JsonlOpt = False,
    signal_key: SignalKeyOpt = None,
    workers: Annotated[int, typer.Option(help="Files decoded at once in sandboxed worker processes (0 = one per CPU).")] = 0,
    strict: Annotated[bool, typer.Option(help="Exit 2 when any file fails, even if others scanned.")] = False,
    all_results: Annotated[bool, typer.Option("--all", help="Table: list non-matching stickers too.")] = False,
) -> None:
    """Hash every sticker under PATHS and match it against the banks.

    Exit status: 1 if anything matched, 0 if nothing did, 2 on error (a bad invocation,
    or no file could be scanned; with --strict, any failed file).
    """
    from ..isolate import prestart

    prestart(workers)  # decoder workers warm up while the matcher and banks load
    from ..match import Matcher
    from ..match.scan import ScanSummary, scan

    machine = as_json or as_jsonl
    try:
        database = _open(db)
        matcher = Matcher.from_db(database, banks=bank)
        if not matcher.stats():
            raise StickerguardError("no enabled banks to match against: create one with `stickerguard bank create`")
    except StickerguardError as exc:
        raise _fail(exc, machine) from None
    summary = ScanSummary()
    results = []
    with _progress() as progress:
        task = progress.add_task("scanning", total=None)
        for r in scan(paths, matcher, signal_keys=_keys(signal_key), banks=bank, workers=workers, summary=summary):
            progress.advance(task)
            if as_jsonl:
                print(json.dumps(r.to_dict(), ensure_ascii=False), flush=True)
            else:
                results.append(r)
    if as_jsonl:
        print(json.dumps({"summary": summary.to_dict()}))
    elif as_json:
        print(
            json.dumps(
                {"results": [r.to_dict() for r in results], "summary": summary.to_dict()},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _print_scan_table(results, all_results)
        _print_summary(summary)
    raise typer.Exit(summary.exit_code(strict=strict))


def _print_scan_table(results: list[Any], all_results: bool) -> None:
    table = Table("pack", "sticker", "bank", "label", "signal", "distance", "transform", box=None, pad_edge=False)
    for r in results:
        pack = r.pack.name or r.pack.identifier if r.pack else ""
        if r.error is not None and (all_results or r.error.code != "unsupported_media"):
            kind = "skipped" if r.error.code == "unsupported_media" else "[red]error[/red]"
            table.add_row(pack, r.path, "", "", kind, str(r.error), "")
        for m in r.matches:
            table.add_row(
                pack,
                r.name,
                m.bank,
                ",".join(m.labels),
                f"{m.query_signal}→{m.signal_type}",
                str(m.distance),
                m.transform,
            )
        if all_results and not r.matches and r.error is None:
            table.add_row(pack, r.name, "", "", "no match", "", "")
    if table.row_count:
        out.print(table)


def _print_summary(summary: Any) -> None:
    errors = ", ".join(f"{n} {code}" for code, n in sorted(summary.errors.items())) or "0"
    err.print(
        f"{summary.stickers} files, {summary.hashed} hashed, {summary.matched} matched, "
        f"{summary.skipped} not media{' (--all lists them)' if summary.skipped else ''}, "
        f"errors: {errors} ({summary.seconds:.1f} s)",
        highlight=False,
    )


