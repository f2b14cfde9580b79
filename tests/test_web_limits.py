"""Limits (body size, per-format upload size, request time), typed JSON errors, and
``?url=`` fetching: allow-list, SSRF refusals after resolution, size cap, no redirects.

A local HTTP server on loopback stands in for a sticker host; loopback is refused by
design, so the success path injects a resolver and ``url_allow_private`` (tests only).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stickerguard.auth import create_token
from stickerguard.service import Settings, UrlFetchError, UrlRefused, check_address, fetch_url
from stickerguard.store import open_db

from web_fixtures import SMILE, SMILE_MD5, SMILE_PDQ, auth, make_client


@pytest.fixture
def sqlite_db(tmp_path):
    db = open_db(f"sqlite:///{tmp_path / 'limits.sqlite3'}")
    yield db
    db.close()


def _client(db, **settings):
    _, secret = create_token(db, "t", "admin")
    return make_client(db, **settings), auth(secret)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        if self.path == "/smile.webp":
            body = SMILE.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/slow":
            time.sleep(1.0)
            self.send_response(200)
            self.end_headers()
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def sticker_host():
    """``http://stickers.test:<port>`` served on 127.0.0.1 (bounded: closed after the module)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://stickers.test:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fetching(**extra) -> Settings:
    return Settings(url_fetch=True, url_allow_hosts=("stickers.test",), resolver=lambda h: ["127.0.0.1"],
                    url_allow_private=True, **extra)


def test_body_limit(sqlite_db):
    c, h = _client(sqlite_db, max_body_bytes=1000)
    with c:
        r = c.post("/v1/hash", files={"file": ("s.webp", SMILE.read_bytes())}, headers=h)
        assert r.status_code == 413
        assert r.json()["error"] == "body_too_large"
        assert r.json()["message"].startswith("request body is ") and r.json()["message"].endswith(
            " bytes, over the limit of 1000 bytes (max_body_bytes)")

        def chunks():  # no Content-Length: counted while streaming
            yield b"x" * 800
            yield b"x" * 800

        r = c.post("/v1/banks/b/signals", content=chunks(), headers={**h, "Content-Type": "application/json"})
        assert (r.status_code, r.json()) == (413, {
            "error": "body_too_large", "message": "request body is over the limit of 1000 bytes (max_body_bytes)"})


def test_upload_limit_per_format_and_media_errors(sqlite_db):
    c, h = _client(sqlite_db, upload_bytes={"webp": 1000, "png": 10**6})
    with c:
        r = c.post("/v1/hash", files={"file": ("s.webp", SMILE.read_bytes())}, headers=h)
        assert (r.status_code, r.json()) == (413, {
            "error": "limit_exceeded", "path": "s.webp", "field": "upload_bytes.webp",
            "message": "s.webp: webp upload is 7774 bytes, over the limit of 1000 bytes (upload_bytes.webp)"})
        r = c.post("/v1/hash", files={"file": ("a.txt", b"hello world, not an image")}, headers=h)
        assert (r.status_code, r.json()["error"]) == (415, "unsupported_media")
        r = c.post("/v1/hash", files={"file": ("t.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)}, headers=h)
        assert (r.status_code, r.json()["error"]) == (422, "decode_error")
        r = c.post("/v1/hash", headers=h)
        assert (r.status_code, r.json()["error"]) == (400, "missing_file")


def test_request_timeout(sqlite_db, sticker_host):
    c, h = _client(sqlite_db, **{**_fetching().__dict__, "request_timeout_s": 0.3})
    with c:
        t0 = time.monotonic()
        r = c.post("/v1/hash", params={"url": f"{sticker_host}/slow"}, headers=h)
        assert (r.status_code, r.json()) == (503, {"error": "timeout", "message": "request took over 0.3 s "
                                                                                   "(request_timeout_s)"})
        assert time.monotonic() - t0 < 0.9


def test_url_fetch_success_and_hma_get(sqlite_db, sticker_host):
    c, h = _client(sqlite_db, **_fetching().__dict__)
    with c:
        r = c.post("/v1/hash", params={"url": f"{sticker_host}/smile.webp"}, headers=h)
        assert (r.status_code, r.json()["md5"], r.json()["pdq"]) == (200, SMILE_MD5, SMILE_PDQ)
        assert c.get("/h/hash", params={"url": f"{sticker_host}/smile.webp"}, headers=h).json() == {"pdq": SMILE_PDQ}
        r = c.post("/v1/hash", params={"url": f"{sticker_host}/moved"}, headers=h)
        assert (r.status_code, r.json()["message"]) == (502, "stickers.test answered HTTP 302")
        r = c.post("/v1/hash", params={"url": f"{sticker_host}/nothing"}, headers=h)
        assert (r.status_code, r.json()["error"]) == (502, "url_fetch_failed")


def test_url_fetch_is_off_by_default(sqlite_db):
    c, h = _client(sqlite_db)
    with c:
        r = c.post("/v1/hash", params={"url": "https://example.com/a.webp"}, headers=h)
        assert (r.status_code, r.json()) == (400, {
            "error": "url_refused", "field": "url",
            "message": "URL fetching is disabled on this server (serve --url-fetch)"})


def test_url_size_cap(sticker_host):
    with pytest.raises(UrlFetchError, match=r"^body is over the limit of 1000 bytes \(url_max_bytes\)$"):
        fetch_url(f"{sticker_host}/smile.webp", _fetching(url_max_bytes=1000))


@pytest.mark.parametrize("url, ips, message", [
    ("http://evil.test/a", ["8.8.8.8"], "host 'evil.test' is not on the URL allow-list"),
    ("ftp://stickers.test/a", ["8.8.8.8"], "only http and https URLs with a host are fetched, got 'ftp://stickers.test/a'"),
    ("http://u:p@stickers.test/a", ["8.8.8.8"], "URLs with credentials are refused"),
    ("http://stickers.test/a", ["127.0.0.1"], "address 127.0.0.1 is not public (private, loopback, link-local or reserved)"),
    ("http://stickers.test/a", ["8.8.8.8", "10.1.2.3"], "address 10.1.2.3 is not public (private, loopback, link-local or reserved)"),
    ("http://stickers.test/a", ["169.254.169.254"], "address 169.254.169.254 is not public (private, loopback, link-local or reserved)"),
    ("http://stickers.test/a", ["::1"], "address ::1 is not public (private, loopback, link-local or reserved)"),
    ("http://stickers.test/a", ["::ffff:127.0.0.1"], "address ::ffff:127.0.0.1 is not public (private, loopback, link-local or reserved)"),
    ("http://stickers.test/a", ["fe80::1"], "address fe80::1 is not public (private, loopback, link-local or reserved)"),
    ("http://stickers.test/a", [], "host 'stickers.test' does not resolve"),
])
def test_ssrf_refusals(url, ips, message):
    settings = Settings(url_fetch=True, url_allow_hosts=("stickers.test",), resolver=lambda h: ips)
    with pytest.raises(UrlRefused) as e:
        fetch_url(url, settings)
    assert str(e.value) == message


def test_real_resolver_refuses_localhost():
    settings = Settings(url_fetch=True, url_allow_hosts=("localhost",))
    with pytest.raises(UrlRefused, match=r"^address (127\.0\.0\.1|::1) is not public"):
        fetch_url("http://localhost:9/x", settings)
    check_address("8.8.8.8")  # public: no error
