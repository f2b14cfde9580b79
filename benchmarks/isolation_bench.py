"""Isolation overhead: hashing in the sandboxed worker pool vs in-process, anchored on
python-threatexchange's PdqSignal in the same run.

``python -m benchmarks isolation [--quick] [--rounds N] [--out DIR]``

1. Single core (this process pinned to one CPU before the pool starts, so its worker
   inherits the same CPU): the 25 static Cuppy WebPs, round-robin per round:
   ``te_pdq`` (``PdqSignal.hash_from_file``), ``in_process``
   (``signals.hash_file(path, variants=False)``, what ``scan(isolate=False)`` does) and
   ``pool_1_worker`` (read the file, ``DecoderPool(1).hash``: decode + hash in the
   worker, JSON reply validated in the parent). Same for pack 2's 21 animated WebPs
   (``--quick``: the first 5, one round).
2. All cores: ``scan`` over the Cuppy folder repeated, in-process vs the pool with 2
   workers (files/s, wall clock).
3. Worker lifecycle: cold start of a 1-worker pool to its first hash, and the time from
   a worker killed by SIGABRT to the next file hashed by its replacement.
4. Writes ``OUT/isolation.json``, ``OUT/isolation.md`` and ``OUT/isolation.png``; OUT is
   ``docs/bench`` (``--quick``: ``docs/bench/quick``) unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import statistics

from benchmarks.hash_bench import GOAL_PER_SECOND, GOAL_RATIO, THREAD_VARS, pin_one_core
from benchmarks.hash_report import machine_info

ROOT = Path(__file__).resolve().parent.parent
PACKS = ROOT / "tests" / "data" / "whatsapp-sample-packs"
SYSTEMS = {
    "te_pdq": "python-threatexchange PdqSignal.hash_from_file (anchor)",
    "in_process": "stickerguard hash_file, in this process",
    "pool_1_worker": "stickerguard DecoderPool(1).hash (sandboxed worker)",
}


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def round_robin(fns: dict, paths: list[Path], rounds: int, pids=lambda: []) -> dict[str, dict]:
    """Time ``rounds`` passes over ``paths`` per system, interleaved.

    Per pass: wall-clock and CPU time of this process plus the pool's workers (``pids()``),
    so that work done in a worker counts. Returns name -> {files_per_s, ms_per_file (CPU,
    median round), wall_files_per_s, wall_ms_per_file (median round), hashes, errors, error}.
    """
    cpu = {n: [] for n in fns}
    wall = {n: [] for n in fns}
    errors = {n: 0 for n in fns}
    first: dict[str, str] = {}

    def cpu_now() -> float:
        return time.process_time() + sum(_proc_cpu(pid) for pid in pids())

    for fn in fns.values():  # warm up
        for p in paths[:2]:
            fn(p)
    for _ in range(rounds):
        for name, fn in fns.items():
            c0, t0 = cpu_now(), time.perf_counter()
            for p in paths:
                try:
                    fn(p)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors[name] += 1
                    first.setdefault(name, f"{type(exc).__name__}: {exc}"[:120])
            cpu[name].append(cpu_now() - c0)
            wall[name].append(time.perf_counter() - t0)
    out = {}
    for name in fns:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        out[name] = {"files_per_s": len(paths) / c, "ms_per_file": 1000 * c / len(paths),
                     "wall_files_per_s": len(paths) / w, "wall_ms_per_file": 1000 * w / len(paths),
                     "hashes": len(paths) * rounds, "errors": errors[name], "error": first.get(name)}
    return out


def single_core(rounds: int, animated_rounds: int, animated_files: int = 21) -> tuple[dict, dict, int]:
    """Round-robin rows for static and animated WebPs on one pinned CPU (see module doc)."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from stickerguard.isolate import DecoderPool
    from stickerguard.signals import hash_file

    static = sorted((PACKS / "1").glob("*.webp"))
    animated = sorted((PACKS / "2").glob("*.webp"))[:animated_files]
    allowed = os.sched_getaffinity(0)
    cpu = pin_one_core()
    try:
        with DecoderPool(1) as pool:
            fns = {
                "te_pdq": PdqSignal.hash_from_file,
                "in_process": lambda p: hash_file(p, variants=False),
                "pool_1_worker": lambda p: pool.hash(p.read_bytes(), name=str(p)),
            }
            return (round_robin(fns, static, rounds, pool.pids),
                    round_robin(fns, animated, animated_rounds, pool.pids), cpu)
    finally:
        os.sched_setaffinity(0, allowed)


def scan_throughput(repeat: int) -> list[dict]:
    """files/s of ``scan`` over the Cuppy folder x ``repeat``: in-process vs 2 workers."""
    from stickerguard.isolate import DecoderPool
    from stickerguard.match.scan import scan

    paths = [PACKS / "1"] * repeat
    rows = []
    list(scan([PACKS / "1"], isolate=False))
    t0 = time.perf_counter()
    n = len(list(scan(paths, isolate=False)))
    rows.append({"mode": "in-process (isolate=False)", "workers": 1, "files": n,
                 "files_per_s": n / (time.perf_counter() - t0)})
    with DecoderPool(2) as pool:
        list(scan([PACKS / "1"], pool=pool, workers=2))
        t0 = time.perf_counter()
        n = len(list(scan(paths, pool=pool, workers=2)))
        rows.append({"mode": "sandboxed pool", "workers": 2, "files": n,
                     "files_per_s": n / (time.perf_counter() - t0)})
    return rows


def lifecycle() -> dict:
    """Seconds: cold pool start to first hash; SIGABRT of a worker to the next hash."""
    from stickerguard.isolate import DecoderPool, WorkerCrashed

    data = (PACKS / "1" / "01_Cuppy_smile.webp").read_bytes()
    t0 = time.perf_counter()
    with DecoderPool(1, test_hooks=True) as pool:
        pool.hash(data, name="first")
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            pool.request("abort")
        except WorkerCrashed:
            pass
        pool.hash(data, name="after-crash")
        replace = time.perf_counter() - t0
    return {"cold_start_s": cold, "crash_to_next_hash_s": replace}


def render(res: dict) -> str:
    """The markdown report (machine, command, tables, ratios, goal status)."""
    m = res["machine"]
    s = res["static"]
    te, ip, pl = s["te_pdq"], s["in_process"], s["pool_1_worker"]
    overhead = pl["ms_per_file"] - ip["ms_per_file"]
    lines = [
        "# Isolation overhead (sandboxed decoder pool vs in-process)", "",
        f"Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram']} RAM, {m['platform']}, Python {m['python']}; "
        f"{m['date_utc']}; load average at end {m['load_avg_at_end']:.1f} (shared machine).",
        f"Command: `{res['command']}` ({res['rounds']} rounds; single-core rows pinned to CPU {res['pinned_cpu']}, "
        "the worker inherits the pin).", "",
        "CPU columns: CPU time of the benchmark process plus its pool worker (from /proc), median round: "
        "what a file costs, robust to other jobs on this shared machine. Wall columns: elapsed time, "
        "which on a loaded machine includes waiting for the CPU.", "",
    ]
    n_anim = res["animated"]["te_pdq"]["hashes"] // res["animated_rounds"]
    for key, title in (("static", "25 static 512x512 WebP (Cuppy)"), ("animated", f"{n_anim} animated WebP (pack 2)")):
        rows = res[key]
        lines += [f"## {title}, one core", "",
                  "| system | files/s (CPU) | ms/file (CPU) | x TE (CPU) | files/s (wall) | ms/file (wall) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, r in rows.items():
            lines.append(f"| {SYSTEMS[name]} | {r['files_per_s']:.1f} | {r['ms_per_file']:.2f} | "
                         f"{r['files_per_s'] / rows['te_pdq']['files_per_s']:.2f} | {r['wall_files_per_s']:.1f} | "
                         f"{r['wall_ms_per_file']:.2f} |")
        lines.append("")
    lines += [
        f"Static stickers: isolation costs **{overhead:.2f} ms of CPU per file** (wall clock "
        f"{pl['wall_ms_per_file'] - ip['wall_ms_per_file']:.2f} ms) "
        f"({pl['files_per_s'] / ip['files_per_s']:.2f}x the in-process rate); with isolation on, "
        f"stickerguard is **{pl['files_per_s'] / te['files_per_s']:.2f}x** python-threatexchange "
        f"(goal {GOAL_RATIO:g}x; in-process {ip['files_per_s'] / te['files_per_s']:.2f}x) and hashes "
        f"{pl['files_per_s']:.0f} files/s on one core (goal {GOAL_PER_SECOND:g}).", "",
        "## scan(), all cores", "", "| mode | workers | files | files/s |", "|---|---:|---:|---:|"]
    for r in res["scan"]:
        lines.append(f"| {r['mode']} | {r['workers']} | {r['files']} | {r['files_per_s']:.1f} |")
    lc = res["lifecycle"]
    lines += ["", "## Worker lifecycle", "",
              f"- cold start of a 1-worker pool to its first hash: {lc['cold_start_s']:.2f} s "
              "(imports + warm-up, once per worker);",
              f"- worker killed by SIGABRT to the next file hashed by its replacement: "
              f"{lc['crash_to_next_hash_s']:.2f} s (only that worker's queue waits; the others go on).", ""]
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    """Bar chart: ms per file per system, static and animated rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key in zip(axes, ("static", "animated")):
        rows = res[key]
        names = list(rows)
        ax.bar(names, [rows[n]["ms_per_file"] for n in names], color=["#888", "#4a7", "#37b"])
        ax.set_title(f"{key} WebP, one core")
        ax.set_ylabel("CPU ms per file (median round)")
    fig.suptitle(f"Isolation overhead - {res['machine']['cpu']} - {res['machine']['date_utc']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (module docstring); returns 0."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks isolation", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds, small scan (< 60 s)")
    ap.add_argument("--rounds", type=int, default=None, help="passes over the 25 static files (default 20)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default docs/bench)")
    args = ap.parse_args(argv)
    os.environ.update({v: "1" for v in THREAD_VARS})
    rounds = args.rounds or (2 if args.quick else 20)
    out = args.out or (ROOT / "docs" / "bench" / ("quick" if args.quick else ""))
    start = time.perf_counter()
    static, animated, cpu = single_core(rounds, 1 if args.quick else 3, 5 if args.quick else 21)
    res = {
        "machine": machine_info(),
        "command": "python -m benchmarks isolation" + (" --quick" if args.quick else "")
        + (f" --rounds {args.rounds}" if args.rounds else ""),
        "rounds": rounds, "animated_rounds": 1 if args.quick else 3, "pinned_cpu": cpu, "static": static, "animated": animated,
        "scan": scan_throughput(1 if args.quick else 8),
        "lifecycle": lifecycle(),
    }
    res["seconds"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "isolation.json").write_text(json.dumps(res, indent=1))
    (out / "isolation.md").write_text(render(res))
    plot(res, out / "isolation.png")
    print(render(res))
    print(f"wrote {out}/isolation.md, isolation.json, isolation.png in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
