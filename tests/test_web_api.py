"""HTTP API end to end on SQLite and PostgreSQL: banks, content, hash, lookup, HMA subset.

Values are exact: hashes of the real Cuppy sticker (tests/data), distances in bits.
"""

from __future__ import annotations

import pytest

from web_fixtures import (  # noqa: F401  (fixtures)
    LOL, LOL_PDQ, SMILE, SMILE_MD5, SMILE_PDQ, SMILE_SHA256, auth, client, png_of, sync,
    tokens, web_db,
)

MD5_EMPTY = "d41d8cd98f00b204e9800998ecf8427e"


def test_hash_returns_every_signal(client, tokens):
    # plain PDQ/MD5/SHA-256 are pinned; the canonical hash is whatever the signals
    # package computes today (its own tests pin it), so it is read from there
    from stickerguard.signals import hash_bytes

    sticker_pdq = hash_bytes(SMILE.read_bytes(), name="s").frames[0].canonical_pdq
    r = client.post("/v1/hash", files={"file": ("smile.webp", SMILE.read_bytes())}, headers=auth(tokens["submitter"]))
    assert r.status_code == 200, r.json()
    body = r.json()
    assert {k: body[k] for k in ("format", "width", "height", "animated", "md5", "sha256", "pdq", "quality",
                                 "sticker_pdq", "sticker_pdq_quality")} == {
        "format": "webp", "width": 512, "height": 512, "animated": False, "md5": SMILE_MD5,
        "sha256": SMILE_SHA256, "pdq": SMILE_PDQ, "quality": 100, "sticker_pdq": sticker_pdq,
        "sticker_pdq_quality": 100}
    assert body["frames"] == [{"index": 0, "timestamp_ms": 0.0, "pdq": SMILE_PDQ, "quality": 100,
                               "sticker_pdq": sticker_pdq, "sticker_pdq_quality": 100}]


def test_bank_lifecycle_and_lookup(client, tokens):
    cur, sub = auth(tokens["curator"]), auth(tokens["submitter"])
    r = client.post("/v1/banks", json={"name": "known", "labels": ["test"], "threshold": 31}, headers=cur)
    assert r.status_code == 201
    assert r.json() == {"id": 1, "name": "known", "labels": ["test"], "threshold": 31, "enabled": True,
                        "content_count": 0, "signal_count": {}}
    assert client.post("/v1/banks", json={"name": "known"}, headers=cur).json() == {
        "error": "bank_error", "message": "bank 'known' already exists", "field": "name"}
    r = client.post("/v1/banks/known/content", files={"file": ("smile.webp", SMILE.read_bytes())},
                    data={"note": "stand-in"}, headers=cur)
    assert r.status_code == 201
    # sticker_pdq: the canonical form, 2 flattened and 3 cropped variants, 6 occluded forms
    assert (r.json()["content_id"], r.json()["signals"]) == (1, {"md5": 1, "pdq": 1, "sha256": 1, "sticker_pdq": 12})
    assert sync(client) == 3  # bank created, signals added, note set

    # the exact file: MD5 wins (distance 0)
    r = client.post("/v1/lookup", files={"file": ("x.webp", SMILE.read_bytes())}, headers=sub)
    m = r.json()["matches"]
    assert [(x["bank"], x["content_id"], x["signal_type"], x["distance"], x["labels"]) for x in m] == [
        ("known", 1, "md5", 0, ["test"])]
    # re-encoded as PNG: new bytes, same pixels -> PDQ distance 0
    r = client.post("/v1/lookup", files={"file": ("x.png", png_of(SMILE))}, headers=sub)
    m = r.json()["matches"]
    assert [(x["signal_type"], x["query_signal"], x["distance"], x["threshold"]) for x in m] == [
        ("pdq", "pdq", 0, 31)]
    assert r.json()["signals"]["format"] == "png"
    # another sticker: no match
    assert client.post("/v1/lookup", files={"file": ("l.webp", LOL.read_bytes())}, headers=sub).json()["matches"] == []
    # lookup by hash, with the HMA name of MD5 too
    r = client.get("/v1/lookup", params={"signal_type": "pdq", "signal": SMILE_PDQ}, headers=sub)
    assert [(x["content_id"], x["distance"]) for x in r.json()["matches"]] == [(1, 0)]
    assert r.json()["signals"] is None
    r = client.get("/v1/lookup", params={"signal_type": "video_md5", "signal": SMILE_MD5.upper()}, headers=sub)
    assert [(x["signal_type"], x["value"]) for x in r.json()["matches"]] == [("md5", SMILE_MD5)]
    r = client.get("/v1/lookup", params={"signal_type": "pdq", "signal": "zz"}, headers=sub)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_signal")
    r = client.get("/v1/lookup", params={"signal": SMILE_PDQ, "banks": "nope"}, headers=sub)
    assert r.status_code == 400 and r.json()["message"].startswith("bank 'nope' is not loaded")

    # browse, disable until a date, enable, delete
    page = client.get("/v1/banks/known/content", params={"limit": 10}, headers=cur).json()
    assert (page["total"], len(page["items"]), page["items"][0]["note"], page["items"][0]["enabled"]) == (
        1, 1, "stand-in", True)
    assert [(s["signal_type"], s["region"]) for s in page["items"][0]["signals"]] == [
        ("md5", None), ("sha256", None), ("pdq", None), ("sticker_pdq", None), ("sticker_pdq", None),
        ("sticker_pdq", None), ("sticker_pdq", None), ("sticker_pdq", None), ("sticker_pdq", None),
        ("sticker_pdq", "top_left"), ("sticker_pdq", "top_right"),
        ("sticker_pdq", "bottom_right"), ("sticker_pdq", "bottom_left"), ("sticker_pdq", "bottom"),
        ("sticker_pdq", "top")]
    r = client.patch("/v1/banks/known/content/1", json={"disabled_until": "2999-01-01T00:00:00Z"}, headers=cur)
    assert (r.json()["enabled"], r.json()["disabled_until"]) == (False, "2999-01-01T00:00:00Z")
    sync(client)
    assert client.get("/v1/lookup", params={"signal": SMILE_PDQ}, headers=sub).json()["matches"] == []
    client.patch("/v1/banks/known/content/1", json={"disabled_until": None}, headers=cur)
    sync(client)
    assert len(client.get("/v1/lookup", params={"signal": SMILE_PDQ}, headers=sub).json()["matches"]) == 1
    assert client.delete("/v1/banks/known/content/1", headers=cur).json() == {"deleted": 15}
    sync(client)
    assert client.get("/v1/lookup", params={"signal": SMILE_PDQ}, headers=sub).json()["matches"] == []
    assert client.delete("/v1/banks/known/content/1", headers=cur).json() == {
        "error": "bank_error", "message": "bank 'known' has no content 1", "field": "content_id"}


def test_raw_signals_bank_patch_and_delete(client, tokens):
    cur, sub = auth(tokens["curator"]), auth(tokens["submitter"])
    client.post("/v1/banks", json={"name": "hl", "threshold": 10}, headers=cur)
    r = client.post("/v1/banks/hl/signals", json={"items": [{"pdq": LOL_PDQ}, {"md5": MD5_EMPTY}], "name": "list"},
                    headers=cur)
    assert (r.status_code, r.json()) == (201, {"records": 2, "signals": {"md5": 1, "pdq": 1}, "content_ids": [1, 2]})
    r = client.post("/v1/banks/hl/signals", json={"items": [{"pdq": "abc"}]}, headers=cur)
    assert r.json() == {"error": "bank_error", "field": "items[0].pdq",
                        "message": "item 0: not a 64-hex-digit pdq hash: 'abc'"}
    sync(client)
    near = format(int(LOL_PDQ, 16) ^ 0b1111111111, "064x")  # 10 bits away: inside threshold 10
    far = format(int(LOL_PDQ, 16) ^ 0b11111111111, "064x")  # 11 bits away
    assert [x["distance"] for x in client.get("/v1/lookup", params={"signal": near}, headers=sub).json()["matches"]] == [10]
    assert client.get("/v1/lookup", params={"signal": far}, headers=sub).json()["matches"] == []
    r = client.patch("/v1/banks/hl", json={"threshold": 11, "labels": ["a"]}, headers=cur)
    assert (r.json()["threshold"], r.json()["labels"], r.json()["signal_count"]) == (11, ["a"], {"md5": 1, "pdq": 1})
    sync(client)
    got = client.get("/v1/lookup", params={"signal": far}, headers=sub).json()["matches"]
    assert [(x["distance"], x["threshold"], x["labels"]) for x in got] == [(11, 11, ["a"])]
    client.patch("/v1/banks/hl", json={"enabled": False}, headers=cur)
    sync(client)
    assert client.get("/v1/lookup", params={"signal": far}, headers=sub).json()["matches"] == []
    client.patch("/v1/banks/hl", json={"enabled": True}, headers=cur)
    sync(client)
    assert len(client.get("/v1/lookup", params={"signal": far}, headers=sub).json()["matches"]) == 1
    assert client.delete("/v1/banks/hl", headers=cur).json() == {"deleted": 2}
    sync(client)
    assert client.get("/v1/lookup", params={"signal": far}, headers=sub).json()["matches"] == []
    assert client.get("/v1/banks/hl", headers=cur).status_code == 404


def test_hma_subset(client, tokens):
    cur, sub = auth(tokens["curator"]), auth(tokens["submitter"])
    r = client.post("/c/banks", json={"name": "HMA_BANK"}, headers=cur)
    assert (r.status_code, r.json()) == (201, {"name": "HMA_BANK", "matching_enabled_ratio": 1.0})
    assert client.get("/c/banks", headers=cur).json() == [{"name": "HMA_BANK", "matching_enabled_ratio": 1.0}]
    r = client.post("/h/hash", files={"photo": ("s.webp", SMILE.read_bytes())}, headers=sub)
    assert r.json() == {"pdq": SMILE_PDQ}
    r = client.post("/h/hash", files={"video": ("s.webp", SMILE.read_bytes())}, headers=sub)
    assert r.json() == {"video_md5": SMILE_MD5}
    r = client.post("/c/bank/HMA_BANK/signal", json={"video_md5": MD5_EMPTY.upper()}, headers=cur)
    assert r.json() == {"id": 1, "signals": {"video_md5": MD5_EMPTY}}
    r = client.post("/c/bank/HMA_BANK/content", files={"photo": ("s.webp", SMILE.read_bytes())}, headers=cur)
    assert r.json() == {"id": 2, "signals": {"pdq": SMILE_PDQ}}
    sync(client)
    assert client.get("/m/lookup", params={"signal_type": "pdq", "signal": SMILE_PDQ}, headers=sub).json() == ["HMA_BANK"]
    assert client.get("/m/lookup", params={"signal_type": "video_md5", "signal": MD5_EMPTY},
                      headers=sub).json() == ["HMA_BANK"]
    assert client.get("/m/lookup", params={"signal_type": "pdq", "signal": LOL_PDQ}, headers=sub).json() == []
    assert client.post("/m/lookup", files={"photo": ("p.png", png_of(SMILE))}, headers=sub).json() == {
        "pdq": ["HMA_BANK"]}
    assert client.post("/m/lookup", files={"photo": ("l.webp", LOL.read_bytes())}, headers=sub).json() == {"pdq": []}
    r = client.get("/m/lookup", params={"signal_type": "nope", "signal": "x"}, headers=sub)
    assert (r.status_code, r.json()["message"]) == (400, "No such SignalType 'nope'")


def test_status_and_metrics_need_no_token(client):
    r = client.get("/status")
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("status", "loaded", "signals", "staleness_limit_s")} == {
        "status": "ok", "loaded": True, "signals": 0, "staleness_limit_s": 30.0}
    assert client.get("/status/live").json() == {"status": "ok"}
    client.get("/status/live")
    text = client.get("/metrics").text
    assert 'stickerguard_http_requests_total{method="GET",route="/status/live",status="200"} 2.0' in text
    assert "stickerguard_index_signals 0.0" in text


def test_status_503_when_stale(web_db):
    from web_fixtures import make_client

    with make_client(web_db, staleness_s=0.0) as c:
        import time

        time.sleep(0.01)
        r = c.get("/status")
        assert (r.status_code, r.json()["status"]) == (503, "stale")


def test_unknown_route_is_json_404(client):
    assert client.get("/v2/nothing").json() == {"error": "not_found", "message": "Not Found"}


def test_lookup_fast_path_answers_like_the_fastapi_route(web_db, tokens):
    from web_fixtures import make_client

    from stickerguard.banks import add_signals, create_bank

    create_bank(web_db, "fp", labels=["x"])
    add_signals(web_db, "fp", [{"pdq": SMILE_PDQ, "md5": SMILE_MD5}])
    cases = [
        ({"signal": SMILE_PDQ}, tokens["submitter"]),
        ({"signal": SMILE_MD5, "signal_type": "video_md5", "banks": "fp"}, tokens["submitter"]),
        ({"signal": SMILE_PDQ, "banks": "nope"}, tokens["submitter"]),
        ({"signal": "zz"}, tokens["submitter"]),
        ({"signal_type": "pdq"}, tokens["submitter"]),
        ({"signal": SMILE_PDQ, "signal_type": "nope"}, tokens["submitter"]),
        ({"signal": SMILE_PDQ}, tokens["reviewer"]),
        ({"signal": SMILE_PDQ}, "sg_" + "y" * 43),
        ({"signal": SMILE_PDQ}, None),
    ]
    answers = {}
    for fast in (True, False):
        with make_client(web_db, lookup_fast_path=fast) as c:
            answers[fast] = []
            for params, secret in cases:
                r = c.get("/v1/lookup", params=params, headers=auth(secret) if secret else {})
                answers[fast].append((r.status_code, r.json(), r.headers.get("www-authenticate")))
    assert answers[True] == answers[False]
    assert [a[0] for a in answers[True]] == [200, 200, 400, 400, 422, 400, 403, 401, 401]
    assert answers[True][4][1] == {"error": "invalid_request", "message": "query.signal: Field required"}
