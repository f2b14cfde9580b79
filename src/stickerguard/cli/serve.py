"""``stickerguard serve``, ``stickerguard token create|list|revoke`` and ``stickerguard db upgrade|prune-changes``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Annotated, Optional

import typer

from ..errors import StickerguardError
from .app import DbOpt, JsonOpt, _fail, _open, app, out

token_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke HTTP API tokens.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (each holds the index).")] = 1,
    db: DbOpt = None,
    staleness: Annotated[float, typer.Option(help="/status answers 503 when the index lags more (s).")] = 30.0,
    max_body: Annotated[int, typer.Option(help="Largest request body in bytes.")] = 80 * 1024 * 1024,
    timeout: Annotated[float, typer.Option(help="Per-request time limit in seconds.")] = 30.0,
    url_fetch: Annotated[bool, typer.Option(help="Allow ?url= fetching (needs --allow-host).")] = False,
    allow_host: Annotated[Optional[list[str]], typer.Option(help="Host name ?url= may fetch from (repeatable).")] = None,
    index_dir: Annotated[Optional[str], typer.Option(help="Folder for matcher snapshots: fast restarts, "
                                                      "one build shared by the workers.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Run the HTTP API (FastAPI on uvicorn). Settings reach every worker as STICKERGUARD_* variables."""
    import uvicorn

    from ..store import open_db

    if db:
        os.environ["STICKERGUARD_DB"] = db
    try:
        open_db(db).close()  # migrate once, before workers start
    except Exception as exc:  # noqa: BLE001 - report any connection problem plainly
        raise _fail(exc) from None
    os.environ.update({
        "STICKERGUARD_STALENESS_S": str(staleness), "STICKERGUARD_MAX_BODY_BYTES": str(max_body),
        "STICKERGUARD_REQUEST_TIMEOUT_S": str(timeout), "STICKERGUARD_URL_FETCH": "1" if url_fetch else "0",
        "STICKERGUARD_URL_ALLOW_HOSTS": ",".join(allow_host or ()),
        "STICKERGUARD_INDEX_DIR": index_dir or "",
    })
    from .app import err

    shown = f"[{host}]" if ":" in host else host
    err.print(f"stickerguard serving on http://{shown}:{port} ({workers} worker{'s' if workers != 1 else ''}; "
              f"API docs at /docs, health at /status; Ctrl-C stops). Lookups are not logged; "
              f"--log-level info shows uvicorn's start-up and shutdown.", highlight=False)
    uvicorn.run("stickerguard.web:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, curator, submitter or reviewer.")],
    name: Annotated[str, typer.Option(help="Who or what uses the token.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print its secret ONCE (only its SHA-256 is stored)."""
    from ..auth import create_token

    try:
        info, secret = create_token(_open(db), name, role)
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps({**asdict(info), "token": secret}, default=str))
    else:
        out.print(f"token {info.id} ({info.role}, {info.name!r}); shown once:", highlight=False)
        print(secret)


@token_app.command("list")
def token_list(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List tokens (id, name, role, secret prefix, created, revoked)."""
    from ..auth import list_tokens

    tokens = list_tokens(_open(db), include_revoked=all_)
    if as_json:
        print(json.dumps([asdict(t) for t in tokens], default=str))
        return
    for t in tokens:
        revoked = f" revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else ""
        out.print(f"{t.id}\t{t.role}\t{t.prefix}…\t{t.name}\t{t.created_at:%Y-%m-%d %H:%M}{revoked}", highlight=False)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (see token list).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token; servers stop accepting it within their token cache time (5 s)."""
    from ..auth import revoke_token

    try:
        info = revoke_token(_open(db), token_id)
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps(asdict(info), default=str))
    else:
        out.print(f"revoked token {info.id} ({info.name!r})", highlight=False)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Run the Alembic migrations up to the latest revision."""
    from ..store import open_db

    try:
        open_db(db).close()
    except Exception as exc:  # noqa: BLE001
        raise _fail(exc) from None
    out.print("database is at the latest revision", highlight=False)


@db_app.command("prune-changes")
def db_prune_changes(
    older_than_days: Annotated[float, typer.Option("--older-than-days", min=0.0,
                                                   help="Delete change-log rows older than this many days.")] = 7.0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete old change-log rows (servers follow the log within seconds; the newest row
    is kept). A saved index snapshot older than what remains is rebuilt at start."""
    from datetime import timedelta

    from ..banks import prune_changes

    try:
        n = prune_changes(_open(db), older_than=timedelta(days=older_than_days))
    except StickerguardError as exc:
        raise _fail(exc, as_json) from None
    if as_json:
        print(json.dumps({"deleted": n}))
    else:
        out.print(f"deleted {n} change-log rows older than {older_than_days:g} days", highlight=False)
