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
    """CPU seconds used so far by every thread of process ``pid``, from
    ``/proc/PID/task/*/schedstat`` (nanoseconds; ``/proc/PID/stat`` counts 10 ms ticks,
    too coarse for a ~3 ms file)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just exited
            pass
    return total / 1e9


def round_robin(fns: dict, paths: list[Path], rounds: int, pids=lambda: []) -> dict[str, dict]:
    """Time ``rounds`` passes over ``paths`` per system, interleaved.

    Per pass: wall-clock and CPU time of this process plus the pool's workers (``pids()``),
    so that work done in a worker counts. Returns name -> {files_per_s, ms_per_file (CPU,
    median round), parent_ms_per_file / worker_ms_per_file (the same split by process,
    medians), wall_files_per_s, wall_ms_per_file (median round), hashes, errors, error}.
    """
    cpu = {n: [] for n in fns}
    own = {n: [] for n in fns}
    wall = {n: [] for n in fns}
    errors = {n: 0 for n in fns}
    first: dict[str, str] = {}

    def workers_now() -> float:
        return sum(_proc_cpu(pid) for pid in pids())

    for fn in fns.values():  # warm up
        for p in paths[:2]:
            fn(p)
    for _ in range(rounds):
        for name, fn in fns.items():
            w0, c0, t0 = workers_now(), time.process_time(), time.perf_counter()
            for p in paths:
                try:
                    fn(p)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors[name] += 1
                    first.setdefault(name, f"{type(exc).__name__}: {exc}"[:120])
            wall[name].append(time.perf_counter() - t0)
            own[name].append(time.process_time() - c0)
            cpu[name].append(own[name][-1] + workers_now() - w0)
    out = {}
    for name in fns:
        c, w, o = statistics.median(cpu[name]), statistics.median(wall[name]), statistics.median(own[name])
        out[name] = {"files_per_s": len(paths) / c, "ms_per_file": 1000 * c / len(paths),
                     "parent_ms_per_file": 1000 * o / len(paths),
                     "worker_ms_per_file": 1000 * (statistics.median([a - b for a, b in zip(cpu[name], own[name])]))
                     / len(paths),
                     "wall_files_per_s": len(paths) / w, "wall_ms_per_file": 1000 * w / len(paths),
                     "hashes": len(paths) * rounds, "errors": errors[name], "error": first.get(name)}
    return out


def single_core(rounds: int, animated_rounds: int, animated_files: int = 21) -> tuple[dict, dict, int, dict]:
    """Round-robin rows for static and animated WebPs on one pinned CPU (see module doc),
    plus the round trip of a rejected file and scan()'s CPU per file (:func:`floors`)."""
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
                    round_robin(fns, animated, animated_rounds, pool.pids), cpu,
                    floors(pool, max(1, rounds // 4)))
    finally:
        os.sched_setaffinity(0, allowed)


def floors(pool, repeat: int) -> dict:
    """On the pinned core, CPU ms per file (parent, worker) of: the round trip of a
    12-byte file the worker rejects at once (``unsupported_media``: the protocol and
    process switches without any decoding), and ``scan`` over the Cuppy folder x
    ``repeat``, in-process vs through ``pool`` (scan's own path: walk, read, submit)."""
    from stickerguard.errors import UnsupportedMedia
    from stickerguard.match.scan import scan

    def measure(fn, n: int) -> dict:
        pids = pool.pids()
        w0, c0 = sum(_proc_cpu(p) for p in pids), time.process_time()
        fn()
        own = time.process_time() - c0
        if pool.pids() != pids:
            raise RuntimeError("a worker was replaced during the measurement")
        worker = sum(_proc_cpu(p) for p in pids) - w0
        return {"parent_ms": 1000 * own / n, "worker_ms": 1000 * worker / n, "ms": 1000 * (own + worker) / n}

    def rejects(n: int) -> None:
        for _ in range(n):
            try:
                pool.hash(b"not a sticker", name="x.webp")
            except UnsupportedMedia:
                pass

    rejects(20)
    n_scan = len(list(scan([PACKS / "1"] * repeat, pool=pool, workers=1)))
    out = {"round_trip": measure(lambda: rejects(200 * repeat), 200 * repeat), "scan_files": n_scan}
    out["scan_in_process"] = measure(lambda: list(scan([PACKS / "1"] * repeat, isolate=False)), n_scan)
    out["scan_pool"] = measure(lambda: list(scan([PACKS / "1"] * repeat, pool=pool, workers=1)), n_scan)
    return out


def single_core_same_allocator(rounds: int, animated_rounds: int, animated_files: int) -> dict:
    """:func:`single_core` in a child interpreter started with the workers' glibc malloc
    settings (``isolate.pool.WORKER_MALLOC_ENV``), so that in-process and pool rows differ
    by isolation alone. Returns {"static", "animated", "floors"}."""
    import subprocess

    from stickerguard.isolate.pool import WORKER_MALLOC_ENV

    env = {**os.environ, **WORKER_MALLOC_ENV}
    cmd = [sys.executable, "-m", "benchmarks.isolation_bench", "--single-core-json",
           f"{rounds},{animated_rounds},{animated_files}"]
    out = subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


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
    """Seconds: cold pool start to first hash; SIGABRT of a worker to the next hash; CPU
    of a worker from exec to its first file hashed (what each replacement costs)."""
    from stickerguard.isolate import DecoderPool, WorkerCrashed

    data = (PACKS / "1" / "01_Cuppy_smile.webp").read_bytes()
    t0 = time.perf_counter()
    with DecoderPool(1, test_hooks=True) as pool:
        pool.hash(data, name="first")
        cold = time.perf_counter() - t0
        start_cpu = _proc_cpu(pool.pids()[0])
        t0 = time.perf_counter()
        try:
            pool.request("abort")
        except WorkerCrashed:
            pass
        pool.hash(data, name="after-crash")
        replace = time.perf_counter() - t0
    return {"cold_start_s": cold, "crash_to_next_hash_s": replace, "worker_start_cpu_s": start_cpu,
            "max_jobs": pool.sandbox.max_jobs}


def _table(rows: dict) -> list[str]:
    lines = ["| system | files/s (CPU) | ms/file (CPU) | parent / worker ms | x TE (CPU) | files/s (wall) "
             "| ms/file (wall) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        split = f"{r['parent_ms_per_file']:.2f} / {r['worker_ms_per_file']:.2f}" if name == "pool_1_worker" else "-"
        lines.append(f"| {SYSTEMS[name]} | {r['files_per_s']:.1f} | {r['ms_per_file']:.2f} | {split} | "
                     f"{r['files_per_s'] / rows['te_pdq']['files_per_s']:.2f} | {r['wall_files_per_s']:.1f} | "
                     f"{r['wall_ms_per_file']:.2f} |")
    return lines + [""]


def _floors(fl: dict) -> list[str]:
    rt, si, sp = fl["round_trip"], fl["scan_in_process"], fl["scan_pool"]
    return [
        f"- round trip of a 12-byte file the worker rejects at once (protocol, pipes and process switches, "
        f"no decoding): {rt['ms']:.3f} ms ({rt['parent_ms']:.3f} / {rt['worker_ms']:.3f});",
        f"- `scan` of {fl['scan_files']} Cuppy files, in-process: {si['ms']:.2f} ms; through a 1-worker pool: "
        f"{sp['ms']:.2f} ms ({sp['parent_ms']:.2f} / {sp['worker_ms']:.2f}; the parent walks the folder, reads "
        f"each file and submits it), {si['ms'] / sp['ms']:.2f}x the in-process rate.",
    ]


def render(res: dict, notes: str = "") -> str:
    """The markdown report (machine, command, tables, ratios, goal status), followed by
    ``notes`` (the hand-written ``## Notes`` section of the previous report, kept on rerun)."""
    m = res["machine"]
    same = res["same_allocator"]
    s = same["static"]
    te, ip, pl = s["te_pdq"], s["in_process"], s["pool_1_worker"]
    d = res["static"]
    n_anim = res["animated"]["te_pdq"]["hashes"] // res["animated_rounds"]
    lc = res["lifecycle"]
    restart_ms = 1000 * lc["worker_start_cpu_s"] / lc["max_jobs"]
    lines = [
        "# Isolation overhead (sandboxed decoder pool vs in-process)", "",
        f"Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram']} RAM, {m['platform']}, Python {m['python']}; "
        f"{m['date_utc']}; load average at end {m['load_avg_at_end']:.1f} (shared machine).",
        f"Command: `{res['command']}` ({res['rounds']} rounds; single-core rows pinned to CPU {res['pinned_cpu']}, "
        "the worker inherits the pin).", "",
        "CPU columns: CPU time of the benchmark process plus its pool worker (worker from "
        "/proc/PID/task/*/schedstat, ns), median round: what a file costs, robust to other jobs on this "
        "shared machine; split into the parent's and the worker's share. Wall columns: elapsed time, "
        "which on a loaded machine includes waiting for the CPU.", "",
        "Workers run with glibc malloc settings that keep frame buffers on the heap "
        "(`isolate.pool.WORKER_MALLOC_ENV`). The first tables run the scanner process with the same "
        "settings (a child interpreter), so in-process and pool differ by isolation alone; the last "
        "ones run it with glibc's defaults, as `scan(isolate=False)` does.", "",
        f"Static stickers: isolation costs **{pl['ms_per_file'] - ip['ms_per_file']:.2f} ms of CPU per file** "
        f"(parent {pl['parent_ms_per_file']:.2f} ms; worker {pl['worker_ms_per_file']:.2f} ms vs "
        f"{ip['ms_per_file']:.2f} ms in-process), plus {restart_ms:.2f} ms for restarting each worker after "
        f"{lc['max_jobs']:,} files ({lc['worker_start_cpu_s']:.2f} s of CPU per start), and runs at "
        f"**{pl['files_per_s'] / ip['files_per_s']:.2f}x** the in-process rate "
        f"({ip['ms_per_file'] / (pl['ms_per_file'] + restart_ms):.2f}x counting restarts); with isolation on, stickerguard is **{pl['files_per_s'] / te['files_per_s']:.2f}x** "
        f"python-threatexchange (goal {GOAL_RATIO:g}x; in-process {ip['files_per_s'] / te['files_per_s']:.2f}x) "
        f"and hashes {pl['files_per_s']:.0f} files/s on one core (goal {GOAL_PER_SECOND:g}). With glibc's "
        f"default settings in the scanner, in-process hashing takes {d['in_process']['ms_per_file']:.2f} ms and "
        f"the pool {d['pool_1_worker']['ms_per_file']:.2f} ms per file.", "",
        "## Same allocator settings in the scanner and the worker", "",
        "### 25 static 512x512 WebP (Cuppy), one core", "", *_table(s),
        f"### {n_anim} animated WebP (pack 2), one core", "", *_table(same["animated"]),
        "### Where the time goes (one core, CPU ms per file: parent / worker)", "", *_floors(same["floors"]), "",
        "## glibc default settings in the scanner (workers unchanged)", "",
        "### 25 static 512x512 WebP (Cuppy), one core", "", *_table(d),
        f"### {n_anim} animated WebP (pack 2), one core", "", *_table(res["animated"]),
        *_floors(res["floors"]), "",
        "## scan(), all cores", "", "| mode | workers | files | files/s |", "|---|---:|---:|---:|"]
    for r in res["scan"]:
        lines.append(f"| {r['mode']} | {r['workers']} | {r['files']} | {r['files_per_s']:.1f} |")
    lines += ["", "## Worker lifecycle", "",
              f"- cold start of a 1-worker pool to its first hash: {lc['cold_start_s']:.2f} s "
              "(imports + warm-up, once per worker);",
              f"- worker killed by SIGABRT to the next file hashed by its replacement: "
              f"{lc['crash_to_next_hash_s']:.2f} s (only that worker's queue waits; the others go on);",
              f"- CPU of a worker from exec to its first file hashed: {lc['worker_start_cpu_s']:.2f} s; workers are "
              f"replaced after max_jobs={lc['max_jobs']:,} files: {restart_ms:.3f} ms per file.", ""]
    if notes:
        lines += [notes.rstrip(), ""]
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    """Bar chart: CPU ms per file per system, static and animated, with the scanner on the
    workers' allocator settings and on glibc's defaults; pool bars split parent / worker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    colors = {"te_pdq": "#888", "in_process": "#4a7", "pool_1_worker": "#37b"}
    for ax, key in zip(axes, ("static", "animated")):
        for g, (label, rows) in enumerate((("same allocator", res["same_allocator"][key]), ("glibc default", res[key]))):
            for i, name in enumerate(rows):
                x, r = g * 4 + i, rows[name]
                if name == "pool_1_worker":
                    ax.bar(x, r["worker_ms_per_file"], color=colors[name], label="pool: worker" if g == 0 else None)
                    ax.bar(x, r["parent_ms_per_file"], bottom=r["worker_ms_per_file"], color="#e83",
                           label="pool: parent" if g == 0 else None)
                else:
                    ax.bar(x, r["ms_per_file"], color=colors[name], label=SYSTEMS[name].split(" (")[0] if g == 0 else None)
        ax.set_xticks([1, 5], ["scanner on workers' malloc settings", "scanner on glibc defaults"], fontsize=8)
        ax.set_title(f"{key} WebP, one core")
        ax.set_ylabel("CPU ms per file (median round)")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
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
    ap.add_argument("--single-core-json", default=None, help=argparse.SUPPRESS)  # child of single_core_same_allocator
    args = ap.parse_args(argv)
    os.environ.update({v: "1" for v in THREAD_VARS})
    if args.single_core_json:
        static, animated, _, floor = single_core(*(int(x) for x in args.single_core_json.split(",")))
        print(json.dumps({"static": static, "animated": animated, "floors": floor}))
        return 0
    rounds = args.rounds or (2 if args.quick else 20)
    out = args.out or (ROOT / "docs" / "bench" / ("quick" if args.quick else ""))
    start = time.perf_counter()
    plan = (rounds, 1 if args.quick else 3, 5 if args.quick else 21)
    static, animated, cpu, floor = single_core(*plan)
    same = single_core_same_allocator(*plan)
    res = {
        "machine": machine_info(),
        "command": "python -m benchmarks isolation" + (" --quick" if args.quick else "")
        + (f" --rounds {args.rounds}" if args.rounds else ""),
        "rounds": rounds, "animated_rounds": 1 if args.quick else 3, "pinned_cpu": cpu, "static": static, "animated": animated,
        "floors": floor, "same_allocator": same,
        "scan": scan_throughput(1 if args.quick else 8),
        "lifecycle": lifecycle(),
    }
    res["seconds"] = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "isolation.json").write_text(json.dumps(res, indent=1))
    md = out / "isolation.md"
    old = md.read_text() if md.exists() else ""
    notes = old[old.index("## Notes"):] if "## Notes" in old else ""
    md.write_text(render(res, notes))
    plot(res, out / "isolation.png")
    print(render(res, notes))
    print(f"wrote {out}/isolation.md, isolation.json, isolation.png in {res['seconds']:.0f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
