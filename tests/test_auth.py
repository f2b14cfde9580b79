"""auth: tokens shown once and stored as SHA-256, roles, revocation, cache; CLI commands.

Database tests run on SQLite and PostgreSQL (``db`` fixture).
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import select

from stickerguard.auth import (
    PERMISSIONS, ROLES, TokenCache, create_token, has_permission, list_tokens, revoke_token, verify_token,
)
from stickerguard.auth.tokens import AuthError
from stickerguard.cli import main
from stickerguard.store import ApiToken

from web_fixtures import web_db  # noqa: F401


def test_create_stores_only_the_sha256(web_db):
    info, secret = create_token(web_db, "uploader", "submitter")
    assert re.fullmatch(r"sg_[A-Za-z0-9_-]{43}", secret)
    assert (info.id, info.name, info.role, info.prefix, info.revoked_at) == (1, "uploader", "submitter", secret[:8], None)
    with web_db.session() as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in (row.token_hash, row.name, row.prefix) and len(row.prefix) == 8
    assert verify_token(web_db, secret) == info
    assert verify_token(web_db, secret + "x") is None
    assert verify_token(web_db, "not-a-token") is None


def test_list_and_revoke(web_db):
    a, _ = create_token(web_db, "a", "admin")
    b, secret_b = create_token(web_db, "b", "reviewer")
    assert [t.name for t in list_tokens(web_db)] == ["a", "b"]
    revoked = revoke_token(web_db, b.id)
    assert revoked.revoked_at is not None
    assert revoke_token(web_db, b.id).revoked_at == revoked.revoked_at  # idempotent
    assert verify_token(web_db, secret_b) is None
    assert [t.name for t in list_tokens(web_db)] == ["a"]
    assert [t.name for t in list_tokens(web_db, include_revoked=True)] == ["a", "b"]
    with pytest.raises(AuthError, match=r"^no token with id 99$"):
        revoke_token(web_db, 99)


@pytest.mark.parametrize("name, role, message", [
    ("x", "root", "unknown role 'root'; roles: admin, curator, submitter, reviewer"),
    ("", "admin", "bad token name '': 1-100 characters, no control characters"),
    ("a\nb", "admin", "bad token name 'a\\nb': 1-100 characters, no control characters"),
])
def test_create_refuses(web_db, name, role, message):
    with pytest.raises(AuthError) as e:
        create_token(web_db, name, role)
    assert (e.value.code, str(e.value)) == ("auth_error", message)


def test_roles_and_permissions():
    assert ROLES == ("admin", "curator", "submitter", "reviewer")
    assert sorted(p for p in PERMISSIONS["admin"]) == ["banks:read", "banks:write", "hash", "lookup", "review"]
    assert has_permission("submitter", "lookup") and not has_permission("submitter", "banks:read")
    assert has_permission("curator", "banks:write") and not has_permission("reviewer", "hash")
    assert not has_permission("nobody", "hash")


def test_cache_sees_revocation_after_ttl(web_db):
    info, secret = create_token(web_db, "c", "admin")
    cache = TokenCache(web_db, ttl_s=0.0)
    assert cache.verify(secret) == info
    revoke_token(web_db, info.id)
    assert cache.verify(secret) is None
    long = TokenCache(web_db, ttl_s=3600)
    _, s2 = create_token(web_db, "d", "admin")
    assert long.verify(s2).name == "d"
    revoke_token(web_db, 2)
    assert long.verify(s2).name == "d"  # cached: revocation shows after ttl_s


def test_cli_token_commands(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert main(["token", "create", "--role", "curator", "--name", "ci", "--db", url, "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["id"], made["role"], made["name"], made["token"][:8]) == (1, "curator", "ci", made["prefix"])
    assert main(["token", "list", "--db", url, "--json"]) == 0
    assert [t["name"] for t in json.loads(capsys.readouterr().out)] == ["ci"]
    assert main(["token", "revoke", "1", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revoked_at"] is not None
    assert main(["token", "list", "--db", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["token", "create", "--role", "god", "--name", "x", "--db", url, "--json"]) == 2
    assert json.loads(capsys.readouterr().out) == {
        "error": "auth_error", "message": "unknown role 'god'; roles: admin, curator, submitter, reviewer",
        "field": "role"}
    assert main(["db", "upgrade", "--db", url]) == 0
