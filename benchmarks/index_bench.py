"""Index benchmark: stickerguard's PDQIndex / Matcher vs python-threatexchange's PDQIndex.

``python -m benchmarks index [--sizes 100000,1000000,10000000] [--quick] [--out DIR]``

Bulk hashes are seeded random 256-bit codes; the queries are near-duplicates of Meta's
30 real reference PDQ hashes (tests/data/pdq-reference/expected-pdq.csv, all inserted
into the index): query i is real hash ``i % 30`` with ``k = i % 41`` bits flipped, so
k runs 0..40 (those with k <= 31 must match). Another set of random queries matches
nothing. Every (system, size) runs alone in a subprocess so that its RSS is its own.

Figures per size: build time, save and load time, RSS (resident memory after the build
minus the process before the data was made; after every lookup; and peak), single-query
p50/p99 (one call per query, hex in, hits out), batch throughput (all queries in one
call, best of 3) with its CPU time per lookup, and recall at threshold 31 against an
exact numpy brute force. Writes ``index.json``, ``index.md``
and PNG plots to ``docs/bench`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "pdq-reference" / "expected-pdq.csv"
THRESHOLD = 31
SEED = 20261129


def rss_mb() -> float:
    """Current resident set size of this process in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Peak resident set size of this process in MB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def real_hashes() -> np.ndarray:
    """Meta's 30 reference PDQ hashes as (30, 32) uint8."""
    rows = [line.split(",")[1] for line in REAL.read_text().splitlines()[1:] if line]
    return np.frombuffer(bytes.fromhex("".join(rows)), dtype=np.uint8).reshape(-1, 32)


def make_data(n: int, n_near: int, n_miss: int):
    """(codes (n, 32), near queries, miss queries, positions of the real hashes)."""
    rng = np.random.default_rng(SEED)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    real = real_hashes()
    where = rng.choice(n, len(real), replace=False)
    codes[where] = real
    near = real[np.arange(n_near) % len(real)].copy()
    bits = np.unpackbits(near, axis=1)
    for i in range(n_near):
        bits[i, rng.choice(256, i % 41, replace=False)] ^= 1
    near = np.packbits(bits, axis=1)
    miss = rng.integers(0, 256, (n_miss, 32), dtype=np.uint8)
    return codes, near, miss, where


def brute(codes: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """Exact ids (row numbers) within THRESHOLD of each query, numpy popcount in blocks."""
    words = codes.view(np.uint64)
    out = []
    for q in queries.view(np.uint64):
        found: set[int] = set()
        for lo in range(0, len(words), 1 << 21):
            d = np.bitwise_count(words[lo:lo + (1 << 21)] ^ q).sum(axis=1)
            found.update((np.flatnonzero(d <= THRESHOLD) + lo).tolist())
        out.append(found)
    return out


def hexes(codes: np.ndarray) -> list[str]:
    s = codes.tobytes().hex()
    return [s[i:i + 64] for i in range(0, len(s), 64)]


def _latency(fn, queries: list[str]) -> np.ndarray:
    """ms per single-query call, one call per query."""
    ts = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        ts.append(time.perf_counter() - t)
    return np.array(ts) * 1e3


def _pct(a: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def _recall(found: list[set[int]], exact: list[set[int]]) -> tuple[float, int]:
    want = sum(len(e) for e in exact)
    got = sum(len(f & e) for f, e in zip(found, exact))
    extra = sum(len(f - e) for f, e in zip(found, exact))
    return (got / want if want else 1.0), extra


# ----------------------------------------------------------------- workers (subprocess)

def worker(system: str, n: int, n_near: int, n_miss: int, n_recall: int) -> dict:
    """Measure one system at one size; returns the figures as a dict."""
    import faiss  # noqa: F401  (imports before the baseline RSS)
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex as TEIndex

    import stickerguard.match  # noqa: F401

    base = rss_mb()
    codes, near, miss, _ = make_data(n, n_near, n_miss)
    qs = hexes(np.concatenate([near, miss]))
    recall_q = np.concatenate([near[:n_recall], miss[:max(1, n_recall // 5)]])
    exact = brute(codes, recall_q)
    out: dict = {"system": system, "n": n, "queries": len(qs)}
    # rss_mb: resident memory after the build, input array freed, minus ``base``
    # (imports done, nothing made): what the built index costs (TE keeps its hex strings).
    if system == "te":
        entries = list(zip(hexes(codes), range(n)))
        del codes
        t = time.perf_counter()
        index = TEIndex(entries)
        out["build_s"] = time.perf_counter() - t
        del entries
        out["rss_mb"] = rss_mb() - base
        single = lambda q: index.query(q)  # noqa: E731
        _batch(out, lambda qq: index.index.search_with_distance_in_result(qq, THRESHOLD), qs)
        res = index.index.search_with_distance_in_result(hexes(recall_q), THRESHOLD)
        found = [{int(i) for i, _h, _d in res[h]} for h in hexes(recall_q)]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "te.pickle"
            t = time.perf_counter()
            with open(path, "wb") as f:
                index.serialize(f)
            out["save_s"] = time.perf_counter() - t
            out["disk_mb"] = path.stat().st_size / 2**20
            del index
            t = time.perf_counter()
            with open(path, "rb") as f:
                index = TEIndex.deserialize(f)
            out["load_s"] = time.perf_counter() - t
    else:
        from stickerguard.index import PDQIndex

        crossover = {"flat": 1 << 40, "mih": 1}.get(system)
        t = time.perf_counter()
        if system == "matcher":
            index = _build_matcher(codes)
            single = lambda q: index.match_hash("pdq", q)  # noqa: E731
            batch = lambda qq: index.match_hashes("pdq", qq)  # noqa: E731
        else:
            index = PDQIndex() if crossover is None else PDQIndex(crossover=crossover)
            index.add(np.arange(n), codes)
            single = lambda q: index.range_search([q], THRESHOLD)  # noqa: E731
            batch = lambda qq: index.range_search(qq, THRESHOLD)  # noqa: E731
        out["build_s"] = time.perf_counter() - t
        del codes
        out["rss_mb"] = rss_mb() - base
        batch(qs[:64])  # numba kernels: compiled, or read from their cache, on first use
        _batch(out, batch, qs)
        out["batch_qps_2threads"] = _threaded(batch, qs)
        if system == "matcher":
            found = [{m.content_id - 1 for m in index.match_hash("pdq", h)} for h in hexes(recall_q)]
        else:
            found = [{i for i, _ in hits} for hits in index.range_search(hexes(recall_q), THRESHOLD)]
        out["structure"] = index._pdq.structure if system == "matcher" else index.structure
        out["add_one_ms"], out["add_one_max_ms"] = _add_one(index, system, n)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            index.save(Path(tmp) / "idx")
            out["save_s"] = time.perf_counter() - t
            out["disk_mb"] = sum(p.stat().st_size for p in (Path(tmp) / "idx").iterdir()) / 2**20
            cls = type(index)
            del index, single, batch
            t = time.perf_counter()
            index = cls.load(Path(tmp) / "idx")
            out["load_s"] = time.perf_counter() - t
            single = (lambda q: index.match_hash("pdq", q)) if system == "matcher" else (  # noqa: E731
                lambda q: index.range_search([q], THRESHOLD))
    out["first_lookup_ms"] = float(_latency(single, qs[:1])[0])  # after load (TE: after batches)
    ms = _latency(single, qs)
    out["p50_ms"], out["p99_ms"] = _pct(ms)
    out["near_p50_ms"], out["near_p99_ms"] = _pct(ms[:n_near])
    out["miss_p50_ms"], out["miss_p99_ms"] = _pct(ms[n_near:])
    out["recall"], out["false_hits"] = _recall(found, exact)
    out["recall_queries"] = len(recall_q)
    out["true_pairs"] = sum(len(e) for e in exact)
    out["peak_rss_mb"] = peak_mb()
    out["rss_after_mb"] = rss_mb() - base  # after every lookup: numba and work arrays too
    out["load_avg"] = os.getloadavg()[0]
    return out


def _batch(out: dict, batch, qs: list[str], runs: int = 3) -> None:
    """Best of ``runs`` wall-clock rates of one call with every query (the machine is
    shared: the best run is the least disturbed), and the least CPU time per lookup over
    the runs (``time.process_time``, every thread: what the work costs, whatever the load);
    ``batch_capacity_qps`` = cores * 1000 / that."""
    rates, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        batch(qs)
        rates.append(len(qs) / (time.perf_counter() - t))
        cpu.append((time.process_time() - c) * 1e3 / len(qs))
    out["batch_qps"], out["batch_cpu_ms"] = max(rates), min(cpu)
    out["batch_capacity_qps"] = (os.cpu_count() or 1) * 1e3 / min(cpu)


def _add_one(index, system: str, n: int) -> float:
    """Median and max ms over 5 tries from adding one new hash (a row for the matcher)
    until a lookup returns it (the first add after a build may grow the arrays)."""
    from stickerguard.match import BankSignalRow

    times = []
    for i in range(1, 6):
        h = f"{i:02x}" * 32
        t = time.perf_counter()
        if system == "matcher":
            index.add_rows([BankSignalRow(n + i, 1, "list", THRESHOLD, (), n + i, None, None, (),
                                          1, False, "pdq", h)])
            ok = [m.content_id for m in index.match_hash("pdq", h)] == [n + i]
        else:
            index.add([n + i], [h])
            ok = index.range_search([h], 0) == [[(n + i, 0)]]
        times.append((time.perf_counter() - t) * 1e3)
        if not ok:
            raise AssertionError(f"added hash {h} not found")
    return float(np.median(times)), float(max(times))


def _threaded(batch, qs: list[str]) -> float:
    from concurrent.futures import ThreadPoolExecutor

    half = len(qs) // 2
    with ThreadPoolExecutor(2) as pool:
        t = time.perf_counter()
        list(pool.map(batch, [qs[:half], qs[half:]]))
        return len(qs) / (time.perf_counter() - t)


def _build_matcher(codes: np.ndarray):
    """Matcher from n hash-list rows (one item each), lazy metadata: the 10 M setup.
    Rows are made 50 000 at a time (as a database cursor yields them), so no list of
    10 M hex strings sits in memory while the matcher is built."""
    from stickerguard.match import BankSignalRow, Matcher

    def rows():
        for lo in range(0, len(codes), 50_000):
            for i, h in enumerate(hexes(codes[lo:lo + 50_000]), lo):
                yield BankSignalRow(i + 1, 1, "list", THRESHOLD, (), i + 1, None, None, (), 1,
                                    False, "pdq", h)

    return Matcher.from_rows(rows(), resolver=lambda ids: {})


# ----------------------------------------------------------------- driver

def run_worker(system: str, n: int, args) -> dict:
    """Run :func:`worker` in a fresh interpreter; returns its JSON (or an error entry)."""
    cmd = [sys.executable, "-m", "benchmarks.index_bench", "--worker", system, "--size", str(n),
           "--near", str(args.near), "--miss", str(args.miss), "--recall", str(args.recall)]
    print(f"[index] {system} n={n:,} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
        return {"system": system, "n": n, "error": proc.stderr.strip().splitlines()[-1:]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"[index]   {json.dumps(res)}", file=sys.stderr, flush=True)
    return res


def machine() -> dict:
    """nproc, CPU model, RAM and software versions of this machine."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    import faiss

    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem / 2**20, 1),
            "python": platform.python_version(), "numpy": np.__version__,
            "faiss": faiss.__version__,
            "load": " / ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1/5/15 min, at start)",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks index``; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m benchmarks index", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000,10000000")
    p.add_argument("--crossover-sizes", default="10000,30000,100000,300000,1000000")
    p.add_argument("--systems", default="ours,te,matcher")
    p.add_argument("--quick", action="store_true", help="small sizes, few queries (< 60 s)")
    p.add_argument("--near", type=int, default=1230)
    p.add_argument("--miss", type=int, default=300)
    p.add_argument("--recall", type=int, default=200)
    p.add_argument("--out", default=str(ROOT / "docs" / "bench"))
    p.add_argument("--report-only", action="store_true", help="rewrite index.md from index.json")
    p.add_argument("--worker")
    p.add_argument("--size", type=int)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.size, args.near, args.miss, args.recall)))
        return 0
    if args.report_only:
        from .index_report import write_report

        write_report(json.loads((Path(args.out) / "index.json").read_text()), Path(args.out))
        return 0
    if args.quick:
        args.sizes, args.crossover_sizes = "20000,100000", "3000,20000"
        args.near, args.miss, args.recall = 123, 30, 40
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results = {"machine": machine(), "command": "python -m benchmarks index " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:])), "runs": [], "crossover": []}
    for n in [int(s) for s in args.crossover_sizes.split(",") if s]:
        for system in ("flat", "mih"):
            results["crossover"].append(run_worker(system, n, args))
    for n in sizes:
        for system in args.systems.split(","):
            results["runs"].append(run_worker(system, n, args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(results, indent=1))
    from .index_report import write_report

    write_report(results, out)
    print(f"[index] wrote {out / 'index.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
