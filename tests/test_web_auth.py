"""Every route in the OpenAPI spec refuses a missing token (401) and a wrong role (403);
status routes answer without a token. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from stickerguard.auth import PERMISSIONS

from web_fixtures import auth, client, tokens, web_db  # noqa: F401

OPEN = {("/status", "get"), ("/status/live", "get"), ("/metrics", "get"), ("/openapi.json", "get")}
# which permission each route needs: from the path, checked against the spec below
NEEDS = {
    "/v1/hash": "hash", "/v1/lookup": "lookup", "/h/hash": "hash", "/m/lookup": "lookup",
}


def _permission(path: str, method: str) -> str:
    if path in NEEDS:
        return NEEDS[path]
    return "banks:read" if method == "get" else "banks:write"


def _concrete(path: str) -> str:
    return path.replace("{name}", "b").replace("{bank_name}", "b").replace("{content_id}", "1")


def _routes(spec):
    return [(p, m) for p, ops in spec["paths"].items() for m in ops]


def test_spec_lists_every_route(client):
    routes = set(_routes(client.get("/openapi.json").json()))
    assert routes == {
        ("/status", "get"), ("/status/live", "get"), ("/metrics", "get"),
        ("/v1/hash", "post"), ("/v1/lookup", "post"), ("/v1/lookup", "get"),
        ("/v1/banks", "get"), ("/v1/banks", "post"),
        ("/v1/banks/{name}", "get"), ("/v1/banks/{name}", "patch"), ("/v1/banks/{name}", "delete"),
        ("/v1/banks/{name}/content", "get"), ("/v1/banks/{name}/content", "post"),
        ("/v1/banks/{name}/signals", "post"),
        ("/v1/banks/{name}/content/{content_id}", "get"), ("/v1/banks/{name}/content/{content_id}", "patch"),
        ("/v1/banks/{name}/content/{content_id}", "delete"),
        ("/h/hash", "get"), ("/h/hash", "post"), ("/m/lookup", "get"), ("/m/lookup", "post"),
        ("/c/banks", "get"), ("/c/banks", "post"), ("/c/bank/{bank_name}/signal", "post"),
        ("/c/bank/{bank_name}/content", "post"),
    }
    assert client.get("/docs").status_code == 200


def test_every_route_refuses_without_token_and_with_wrong_role(client, tokens):
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, method in _routes(spec):
        if (path, method) in OPEN:
            continue
        url = _concrete(path)
        r = client.request(method.upper(), url)
        assert (r.status_code, r.json()["error"]) == (401, "unauthorized"), (method, path)
        assert r.headers["www-authenticate"] == "Bearer"
        r = client.request(method.upper(), url, headers=auth("sg_" + "x" * 43))
        assert (r.status_code, r.json()["message"]) == (401, "unknown or revoked API token"), (method, path)
        need = _permission(path, method)
        wrong = next(role for role in ("reviewer", "submitter") if need not in PERMISSIONS[role])
        r = client.request(method.upper(), url, headers=auth(tokens[wrong]))
        assert (r.status_code, r.json()) == (403, {"error": "forbidden", "message": f"role {wrong!r} may not {need}"}), (
            method, path)
        right = next(role for role in ("submitter", "curator") if need in PERMISSIONS[role])
        r = client.request(method.upper(), url, headers=auth(tokens[right]))
        assert r.status_code not in (401, 403), (method, path, r.json())
        checked += 1
    assert checked == 22


@pytest.mark.parametrize("path", ["/status", "/status/live", "/metrics"])
def test_status_routes_are_open(client, path):
    assert client.get(path).status_code == 200
