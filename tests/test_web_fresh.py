"""Freshness across processes: two real ``uvicorn`` servers on one database; a hash
added through either is matchable through the other within 1 s (change log +
LISTEN/NOTIFY on PostgreSQL, polling on SQLite). Loopback only, bounded in time."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from stickerguard.auth import create_token
from stickerguard.banks import create_bank
from stickerguard.store import open_db

from web_fixtures import LOL_PDQ, SMILE_PDQ

PG_URL = os.environ.get("STICKERGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request, tmp_path):
    """A database URL both servers open: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    if os.environ.get("STICKERGUARD_TEST_PG") == "skip":
        pytest.skip("STICKERGUARD_TEST_PG=skip")
    schema = f"sg_fresh_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _start(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "STICKERGUARD_DB": url, "STICKERGUARD_POLL_S": "0.25"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "stickerguard.web:app_from_env", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/status", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base} not ready after {timeout} s")


def _visible_after(client: httpx.Client, base: str, pdq: str, headers: dict, limit: float = 5.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        r = client.get(f"{base}/v1/lookup", params={"signal": pdq}, headers=headers)
        if r.json()["matches"]:
            return time.monotonic() - t0
        time.sleep(0.01)
    return float("inf")


@pytest.mark.slow
def test_hash_added_through_one_server_matches_through_the_other_within_1s(shared_url):
    db = open_db(shared_url)
    _, secret = create_token(db, "fresh", "curator")
    create_bank(db, "fresh")
    db.close()
    headers = {"Authorization": f"Bearer {secret}"}
    ports = [_free_port(), _free_port()]
    procs = [_start(shared_url, p) for p in ports]
    a, b = (f"http://127.0.0.1:{p}" for p in ports)
    try:
        for base, proc in zip((a, b), procs):
            _wait_ready(base, proc)
        with httpx.Client(timeout=5.0) as client:
            r = client.post(f"{a}/v1/banks/fresh/signals", json={"items": [{"pdq": SMILE_PDQ}]}, headers=headers)
            assert r.status_code == 201
            lag_b = _visible_after(client, b, SMILE_PDQ, headers)
            r = client.post(f"{b}/v1/banks/fresh/signals", json={"items": [{"pdq": LOL_PDQ}]}, headers=headers)
            lag_a = _visible_after(client, a, LOL_PDQ, headers)
            assert _visible_after(client, b, LOL_PDQ, headers) < 1.0  # its own follower applies it too
            status = client.get(f"{b}/status").json()
        print(f"freshness lag: A->B {lag_b * 1000:.0f} ms, B->A {lag_a * 1000:.0f} ms")
        assert lag_b < 1.0 and lag_a < 1.0, (lag_a, lag_b)
        assert (status["signals"], status["rebuilds"], status["incremental"]) == (2, 0, True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
