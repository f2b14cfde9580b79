"""Load benchmark: ``stickerguard serve`` with N PDQ hashes in one bank, driven over loopback.

``python -m benchmarks load [--quick] [--hashes N] [--workers W] [--connections C]
[--seconds S] [--tool auto|wrk|python] [--db URL] [--out DIR]``

1. A temporary SQLite database (or ``--db``, e.g. a PostgreSQL URL) gets one bank with
   N random PDQ hashes (numpy seed 0, imported as a hash list) plus one real sticker
   (tests/data Cuppy ``01_Cuppy_smile.webp``, 512x512 WebP, added through the API path).
2. ``python -m stickerguard serve --workers W --index-dir TMP`` starts on a free loopback
   port (one worker builds the index, the other loads its snapshot); the time until
   ``/status`` answers 200 (index loaded) and each worker's RSS are recorded.
3. Scenarios, each ``S`` seconds at ``C`` connections, after a 2 s warm-up (with the
   server's CPU seconds per request, which other work on the machine does not inflate
   much, and the capacity it implies on all CPUs):
   * ``lookup_hash``: ``GET /v1/lookup?signal_type=pdq&signal=...`` cycling through 1,000
     near-duplicate queries (a bank hash with 8 random bits flipped: real matches);
   * ``lookup_file``: ``POST /v1/lookup`` of the sticker re-encoded as a 512x512 WebP
     (quality 80: new bytes, so it is hashed and PDQ-matched, not only MD5-matched).
4. Anchor, same run: python-threatexchange's ``PdqSignal`` index (``PDQIndex``, what
   HMA's matcher queries) built from the same N hashes, queried in-process with the
   same near-duplicate queries (no HTTP): its build time, single-query p50/p99 and
   queries/s on one thread. HMA's own HTTP figures are quoted from issue 4.
5. Writes ``OUT/load.json``, ``OUT/load.md``, ``OUT/load.png`` (OUT = docs/bench, or
   docs/bench/quick with ``--quick``). Bounded: every step has a timeout; the server
   is stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.load_client import run_load
from benchmarks.load_report import write_outputs

ROOT = Path(__file__).resolve().parent.parent
STICKER = ROOT / "tests" / "data" / "whatsapp-sample-packs" / "1" / "01_Cuppy_smile.webp"
GOAL_RPS, GOAL_P99_MS = 2000.0, 20.0
HMA = {"lookups_per_s": 125.0, "p99_ms": (94.0, 111.0), "rss_mb_per_worker": 770.0, "freshness_s": 132.6}


def make_hashes(n: int, queries: int = 1000, flip: int = 8, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` random PDQ hex hashes and ``queries`` near-duplicates (``flip`` bits away from bank hashes)."""
    rng = np.random.default_rng(seed)
    bank = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    picks = rng.choice(n, size=min(queries, n), replace=False)
    q = bank[picks].copy()
    for row in q:
        for bit in rng.choice(256, size=flip, replace=False):
            row[bit // 8] ^= 1 << (7 - bit % 8)
    return [r.tobytes().hex() for r in bank], [r.tobytes().hex() for r in q]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user+system, with reaped children) of ``pid`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def measured(proc: subprocess.Popen, base: str, token: str, **kwargs) -> dict:
    """One load scenario plus the server's CPU time per request (robust to other load:
    ``capacity_rps`` = CPUs / CPU seconds per request, what the server could do alone)."""
    c0 = tree_cpu_s(proc.pid)
    res = run_load(base, token, **kwargs)
    cpu = tree_cpu_s(proc.pid) - c0
    res["server_cpu_ms_per_request"] = round(cpu * 1000 / max(res["requests"], 1), 3)
    res["capacity_rps"] = round((os.cpu_count() or 1) / (cpu / max(res["requests"], 1)), 1) if cpu else None
    return res


def setup_db(url: str, bank_hashes: list[str], tmp: Path) -> tuple[str, dict]:
    """Fill the bank; returns an admin token and timings."""
    from stickerguard.auth import create_token
    from stickerguard.banks import create_bank, import_hash_list
    from stickerguard.service import Settings, add_file
    from stickerguard.store import open_db

    db = open_db(url)
    create_bank(db, "load")
    lines = tmp / "hashes.txt"
    lines.write_text("".join(f"pdq {h}\n" for h in bank_hashes))
    t0 = time.perf_counter()
    import_hash_list(db, "load", lines)
    import_s = time.perf_counter() - t0
    add_file(db, "load", STICKER.read_bytes(), STICKER.name, Settings())
    _, token = create_token(db, "load-bench", "submitter")
    db.close()
    return token, {"import_s": round(import_s, 2)}


def start_server(url: str, workers: int, port: int, timeout: float,
                 index_dir: Path | None = None) -> tuple[subprocess.Popen, float]:
    """Start ``stickerguard serve``; returns the process and seconds until /status is 200."""
    import httpx

    cmd = [sys.executable, "-m", "stickerguard", "serve", "--db", url, "--port", str(port),
           "--workers", str(workers), "--log-level", "error"]
    if index_dir is not None:
        cmd += ["--index-dir", str(index_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    ready_hits = 0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/status", timeout=2.0).status_code == 200:
                ready_hits += 1
                if ready_hits >= 2 * workers:  # probably every worker answered ready
                    return proc, time.perf_counter() - t0
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"server not ready after {timeout} s")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, SIGKILL after 15 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def reencoded_webp() -> bytes:
    """The sticker re-encoded as a 512x512 WebP at quality 80."""
    from PIL import Image

    buf = io.BytesIO()
    Image.open(STICKER).save(buf, format="WEBP", quality=80)
    return buf.getvalue()


def multipart(data: bytes, name: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one ``file`` field; returns (body, content type)."""
    boundary = "sgloadbench0123456789"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/webp\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def anchor(bank_hashes: list[str], queries: list[str], max_queries: int) -> dict:
    """python-threatexchange PdqSignal index: build time, single-query latency, queries/s (1 thread)."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    t0 = time.perf_counter()
    index = PdqSignal.get_index_cls().build((h, i) for i, h in enumerate(bank_hashes))
    build_s = time.perf_counter() - t0
    lat, found = [], 0
    for q in queries[:max_queries]:
        t = time.perf_counter()
        found += bool(index.query(q))
        lat.append(time.perf_counter() - t)
    lat.sort()
    total = sum(lat)
    del index
    return {"system": "python-threatexchange PdqSignal index (in-process, no HTTP)", "build_s": round(build_s, 2),
            "queries": len(lat), "found": found, "qps_1_thread": round(len(lat) / total, 1),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 3), "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 3)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when every scenario ran without errors."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks load")
    ap.add_argument("--quick", action="store_true", help="20k hashes, 3 s per scenario (< 60 s)")
    ap.add_argument("--hashes", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8, help="8: as HMA's figure in issue 4")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--no-anchor", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    n = args.hashes or (20_000 if args.quick else 1_000_000)
    seconds = args.seconds or (3.0 if args.quick else 20.0)
    out = args.out or (ROOT / "docs" / "bench" / ("quick" if args.quick else ""))
    results: dict = {"args": {"hashes": n, "workers": args.workers, "connections": args.connections,
                              "seconds": seconds, "tool": args.tool, "quick": args.quick},
                     "command": "python -m benchmarks load " + " ".join(argv if argv is not None else sys.argv[1:])}
    bank_hashes, queries = make_hashes(n)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'load.sqlite3'}"
        token, timings = setup_db(url, bank_hashes, Path(tmp))
        results["setup"] = timings
        port = _free_port()
        proc, ready_s = start_server(url, args.workers, port, timeout=900, index_dir=Path(tmp) / "index")
        try:
            base = f"http://127.0.0.1:{port}"
            results["server"] = {"ready_s": round(ready_s, 2), "worker_rss_mb": [
                round(_rss_mb(p), 1) for p in _children(proc.pid)] or [round(_rss_mb(proc.pid), 1)]}
            paths = [f"/v1/lookup?signal_type=pdq&signal={q}" for q in queries]
            body, ctype = multipart(reencoded_webp(), "query.webp")
            common = {"tool": args.tool, "connections": args.connections}
            warm = min(2.0, seconds)
            run_load(base, token, paths=paths, seconds=warm, **common)  # warm-up
            results["lookup_hash"] = measured(proc, base, token, paths=paths, seconds=seconds, **common)
            run_load(base, token, body=body, content_type=ctype, path="/v1/lookup", seconds=warm, **common)
            results["lookup_file"] = measured(proc, base, token, body=body, content_type=ctype,
                                              path="/v1/lookup", seconds=seconds, **common)
            results["server"]["worker_rss_mb_after"] = [round(_rss_mb(p), 1) for p in _children(proc.pid)]
        finally:
            stop_server(proc)
    if not args.no_anchor:
        results["anchor"] = anchor(bank_hashes, queries, 200 if args.quick else 1000)
    results["hma_issue_figures"] = HMA
    results["goal"] = {"rps": GOAL_RPS, "p99_ms": GOAL_P99_MS,
                       "met": results["lookup_hash"]["rps"] >= GOAL_RPS and results["lookup_hash"]["p99_ms"] <= GOAL_P99_MS}
    write_outputs(results, out)
    print(json.dumps({k: results[k] for k in ("lookup_hash", "lookup_file", "server", "goal")}, indent=1))
    bad = results["lookup_hash"]["errors"] + results["lookup_hash"]["non_2xx"] + results["lookup_file"]["non_2xx"]
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
