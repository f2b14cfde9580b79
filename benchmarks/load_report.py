"""Writes the load benchmark's ``load.json``, ``load.md`` and ``load.png``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path


def machine_info() -> dict:
    """nproc, CPU model (/proc/cpuinfo), RAM (/proc/meminfo), platform, UTC date, load average."""
    cpu, ram = "unknown", "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram": ram, "platform": platform.platform(),
            "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "loadavg_at_end": list(os.getloadavg())}


def _row(name: str, r: dict) -> str:
    return (f"| {name} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['requests']} | {r['errors'] + r['non_2xx']} | {r.get('server_cpu_ms_per_request')} | "
            f"{r.get('capacity_rps')} | {r['tool']} |")


def render_md(res: dict) -> str:
    """Markdown report of one run."""
    m, a, s = res["machine"], res["args"], res["server"]
    hma = res["hma_issue_figures"]
    lines = [
        "# Load: HTTP lookups against `stickerguard serve`",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM; {m['platform']}; date {m['date_utc']}; "
        f"load average at the end {', '.join(f'{x:.1f}' for x in m['loadavg_at_end'])} (other work shares it).",
        f"Command: `{res['command']}`. Load generator and server share the machine (loopback).",
        f"Bank: {a['hashes']:,} random PDQ hashes + 1 sticker; {a['workers']} uvicorn workers; "
        f"{a['connections']} connections; {a['seconds']:g} s per scenario after a 2 s warm-up.",
        "",
        "| scenario | req/s | p50 ms | p90 ms | p99 ms | requests | errors | server CPU ms/req | capacity req/s | tool |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        _row("lookup by hash (GET, near-duplicate PDQ)", res["lookup_hash"]),
        _row("file lookup (POST 512x512 WebP)", res["lookup_file"]),
        "",
        f"Server: ready {s['ready_s']} s after start (index loaded in every worker); worker RSS "
        f"{s['worker_rss_mb']} MB at start, {s.get('worker_rss_mb_after')} MB after the load. "
        f"Hash-list import of the bank: {res['setup']['import_s']} s. \"Capacity\" is the CPU count divided "
        "by the server's CPU seconds per request (its processes and their children): the rate "
        "the server could sustain if it had the machine to itself, the load generator excluded.",
        "",
        f"Goal (issue 4): >= {res['goal']['rps']:.0f} lookup-by-hash req/s with p99 <= {res['goal']['p99_ms']:g} ms: "
        f"**{'met' if res['goal']['met'] else 'not met'}**.",
        "",
        "## Anchor",
        "",
        f"HMA 1.1.7 (issue 4, same kind of machine, 1 M hashes): {hma['lookups_per_s']:g} lookups/s, "
        f"p99 {hma['p99_ms'][0]:g}-{hma['p99_ms'][1]:g} ms at 8 connections, ~{hma['rss_mb_per_worker']:g} MB per "
        f"worker, new hash matchable after {hma['freshness_s']} s. Ratio here: "
        f"{res['lookup_hash']['rps'] / hma['lookups_per_s']:.1f}x the lookups/s.",
    ]
    if "anchor" in res:
        an = res["anchor"]
        lines += [
            "",
            f"Same run, in-process, no HTTP: {an['system']} over the same {a['hashes']:,} hashes: built in "
            f"{an['build_s']} s; {an['queries']} near-duplicate queries ({an['found']} found): "
            f"p50 {an['p50_ms']} ms, p99 {an['p99_ms']} ms, {an['qps_1_thread']} queries/s on one thread. "
            f"stickerguard over HTTP serves {res['lookup_hash']['rps'] / an['qps_1_thread']:.1f}x that.",
        ]
    lines += ["", f"Load generator command: `{res['lookup_hash'].get('command', '')}`.", ""]
    return "\n".join(lines)


def plot(res: dict, path: Path) -> None:
    """Bar chart: req/s and p99 per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["lookup by hash", "file lookup"]
    rows = [res["lookup_hash"], res["lookup_file"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax1.bar(names, [r["rps"] for r in rows], color=["#4472c4", "#ed7d31"], label="measured")
    ax1.scatter(names, [r.get("capacity_rps") or 0 for r in rows], marker="_", s=900, color="k",
                label="capacity (server CPU)")
    ax1.axhline(res["goal"]["rps"], color="k", ls="--", lw=1, label="goal")
    ax1.axhline(res["hma_issue_figures"]["lookups_per_s"], color="r", ls=":", lw=1, label="HMA (issue 4)")
    ax1.set_ylabel("requests/s")
    ax1.legend(fontsize=8)
    ax2.bar(names, [r["p99_ms"] for r in rows], color=["#4472c4", "#ed7d31"])
    ax2.axhline(res["goal"]["p99_ms"], color="k", ls="--", lw=1, label="goal (hash)")
    ax2.set_yscale("log")
    ax2.set_ylabel("p99 latency, ms (log)")
    ax2.legend(fontsize=8)
    m, a = res["machine"], res["args"]
    fig.suptitle(f"stickerguard serve, {a['hashes']:,} PDQ hashes, {a['workers']} workers, {a['connections']} conns\n"
                 f"{m['nproc']} CPUs {m['cpu']}, {m['ram']}, {m['date_utc']}; `{res['command'].strip()}`",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(res: dict, out: Path) -> None:
    """Add machine info and write load.json / load.md / load.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    res["machine"] = machine_info()
    (out / "load.json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    (out / "load.md").write_text(render_md(res))
    plot(res, out / "load.png")
