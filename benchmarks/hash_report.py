"""Machine description and the hash benchmark's outputs: ``hash.json``, ``hash.md``, ``hash.png``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path

ROW_TITLES = {
    "static_webp": "static 512x512 WebP (25 Cuppy stickers)",
    "animated_webp": "animated WebP (pack 2, 21 files)",
    "tgs": "Telegram .tgs (6 files)",
}
SYSTEM_TITLES = {
    "te_pdq": "python-threatexchange PdqSignal.hash_from_file (HMA)",
    "sg_query": "stickerguard query path (hash_file, variants=False)",
    "sg_query_whole": "stickerguard query path without occluded forms (occluded=False)",
    "sg_bank": "stickerguard bank path (hash_file, variants=True)",
    "sg_query_pdqhash": "stickerguard query path, PDQ in pdqhash (before)",
}


def machine_info() -> dict:
    """nproc, CPU model (/proc/cpuinfo), RAM (/proc/meminfo), OS, library versions, UTC date."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        ram = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        ram = "unknown"
    versions = {}
    for pkg in ("pillow", "numpy", "numba", "pdqhash", "threatexchange"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_avg_at_end": os.getloadavg()[0],
    }


def _system_table(rows: dict, te: float) -> list[str]:
    lines = ["| system | files/s (CPU time, median round) | best round | wall-clock files/s | CPU ms/file "
             "| x TE | page faults/file | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        ratio = f"{r['files_per_s'] / te:.2f}" if te and not r["errors"] else "-"
        err = str(r["errors"]) + (f" ({r['error']})" if r["error"] else "")
        lines.append(f"| {SYSTEM_TITLES.get(name, name)} | {r['files_per_s']:.1f} | {r['best_files_per_s']:.1f} "
                     f"| {r['wall_files_per_s']:.1f} | {r['ms_per_file']:.2f} | {ratio} "
                     f"| {r.get('page_faults_per_file', float('nan')):.0f} | {err} |")
    return lines


def _whole_line(static: dict, res: dict, te: float) -> list[str]:
    """The query path without occluded forms: the work the goal lists (decode, canonical
    form, plain and canonical PDQ, MD5, SHA-256)."""
    if "sg_query_whole" not in static:
        return []
    w = static["sg_query_whole"]["files_per_s"]
    ok = w >= res["goal_files_per_s"] and w / te >= res["goal_ratio_vs_te"]
    return [f"* The goal's listed work only (query path with `occluded=False`: no occluded canonical "
            f"forms): **{w:.0f}/s = {w / te:.2f}x TE** -> {'both met' if ok else 'NOT both met'}."]


def render_markdown(res: dict) -> str:
    """The benchmark section for docs/benchmarks.md (tables filled from ``res``)."""
    m = res["machine"]
    static = res["rows"]["static_webp"]
    te, q, bank = (static[k]["files_per_s"] for k in ("te_pdq", "sg_query", "sg_bank"))
    before = static["sg_query_pdqhash"]["files_per_s"]
    lines = [
        "# Hashing speed",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['platform']}, Python {m['python']}; "
        f"{', '.join(f'{k} {v}' for k, v in m['versions'].items())}. Date: {m['date_utc']}. "
        f"Load average at the end: {m['load_avg_at_end']:.1f} (a shared box: other jobs ran).",
        "",
        f"Command: `{res['command']}` (single core: pinned to CPU {res['pinned_cpu']}, 1 thread; "
        f"{res['rounds']} round-robin rounds; PDQ backend `{res['pdq_backend']}`). Per-core figures are "
        "CPU time of the benchmark process (`time.process_time`), so waiting for the other jobs on this "
        "shared machine is not counted; wall-clock figures are given next to them.",
        "",
        "## Goal",
        "",
        f"* >= {res['goal_files_per_s']:.0f} static 512x512 WebP stickers/s per core, end to end "
        f"(query path = what a scan does): **{q:.0f}/s** -> "
        f"{'met' if q >= res['goal_files_per_s'] else 'NOT met'}.",
        f"* >= {res['goal_ratio_vs_te']:.0f}x python-threatexchange's `PdqSignal.hash_from_file` "
        f"({te:.0f}/s) in the same run: **{q / te:.2f}x** -> "
        f"{'met' if q / te >= res['goal_ratio_vs_te'] else 'NOT met'}. "
        f"Bank path (adds the flattened and cropped canonical variants): {bank:.0f}/s = {bank / te:.2f}x.",
        *_whole_line(static, res, te),
        f"* Before `signals.fastpdq` (same code, PDQ in pdqhash): {before:.0f}/s; speed-up {q / before:.2f}x.",
        "",
        "stickerguard computes more per file than TE: MD5, SHA-256, plain PDQ with its 8 dihedral",
        "variants, the sticker canonical form and its PDQ with 8 dihedral variants, every",
        "sampled frame of animations; TE computes one plain PDQ of the first frame.",
        "",
    ]
    for key, rows in res["rows"].items():
        lines += [f"## {ROW_TITLES.get(key, key)}", "", *_system_table(rows, rows["te_pdq"]["files_per_s"]
                                                                       if not rows["te_pdq"]["errors"] else 0), ""]
    tuned = res.get("malloc_tuned", {})
    rows_t = tuned.get("static_webp", {})
    if rows_t and "error" not in rows_t:
        env = " ".join(f"{k}={v}" for k, v in tuned["env"].items())
        lines += ["## Allocator sensitivity (static WebP, child process with glibc keeping freed memory)", "",
                  f"Same round-robin, TE and the query path only, `{env}`: TE's per-file numpy arrays and "
                  "Pillow images are then not page-faulted in again for every file, which on this VM "
                  "costs it several ms. stickerguard already reuses its memory (Pillow block cache, "
                  "per-thread PDQ scratch), so it gains little; the ratio to TE is lower.", "",
                  *_system_table(rows_t, rows_t["te_pdq"]["files_per_s"]), ""]
    elif rows_t:
        lines += ["## Allocator sensitivity", "", f"Child run failed: {rows_t['error']}", ""]
    lines += ["## Where the time goes (query path, CPU ms per static 512x512 sticker, best round)", "",
              "| stage | ms | note |", "|---|---:|---|"]
    for s in res["stages_ms"]:
        lines.append(f"| {s['stage']} | {s['ms']:.3f} | {s['note']} |")
    query_stages = [s["ms"] for s in res["stages_ms"]
                    if not s["stage"].startswith(("(before)", "bank", "  of which"))]
    lines += ["", f"Sum of the query-path stages: {sum(query_stages):.2f} ms "
                  f"(= {1000 / sum(query_stages):.0f}/s); measured end to end: {static['sg_query']['ms_per_file']:.2f} ms.",
              "", "## Folder scan scaling (`match.scan.scan`, all cores allowed, wall-clock)", "",
              "| mode | workers | files | errors | s | files/s |", "|---|---:|---:|---:|---:|---:|"]
    for r in res["scan_scaling"]:
        lines.append(f"| {r['mode']} | {r['workers']} | {r['files']} | {r['errors']} | {r['seconds']:.2f} "
                     f"| {r['files_per_s']:.1f} |")
    lines += ["", *_analysis(res), "", "![throughput and stages](hash.png)", ""]
    return "\n".join(lines)


#: The canonical form's time budget per 512x512 sticker set for its owner (issue 3), ms.
CANONICAL_BUDGET_MS = 0.6


def _stage(res: dict, prefix: str) -> float:
    return next(s["ms"] for s in res["stages_ms"] if s["stage"].strip().startswith(prefix))


def _analysis(res: dict) -> list[str]:
    """Why the goals are or are not met, from this run's stage times."""
    static = res["rows"]["static_webp"]
    te_ms = static["te_pdq"]["ms_per_file"]
    q_ms = static["sg_query"]["ms_per_file"]
    libwebp = _stage(res, "of which libwebp")
    decode = _stage(res, "decode (media.decode)")
    plain = _stage(res, "plain PDQ")
    canon = _stage(res, "canonicalize")
    cpdq = _stage(res, "canonical PDQ")
    before = _stage(res, "(before) plain PDQ")
    budget = 1000 / res["goal_files_per_s"]
    occ = next((s["ms"] for s in res["stages_ms"] if s["stage"].startswith("occluded")), 0.0)
    parts = decode + plain + canon + cpdq + occ + _stage(res, "MD5")
    tuned = res.get("malloc_tuned", {}).get("static_webp", {})
    tuned_line = []
    if tuned and "error" not in tuned:
        t_te, t_q = tuned["te_pdq"]["ms_per_file"], tuned["sg_query"]["ms_per_file"]
        tuned_line = [
            f"* Allocator: with glibc told to keep freed memory (table above) TE takes {t_te:.2f} ms and the "
            f"query path {t_q:.2f} ms per file: {t_te / t_q:.2f}x. Part of the default-settings ratio is TE "
            "paying page faults for fresh 1 MB arrays on every file (see its page faults/file), which a "
            "deployment could also remove for TE; the 3x goal is judged on the default settings, as HMA runs."]
    return [
        "## Analysis",
        "",
        f"* Budget for {res['goal_files_per_s']:.0f}/s: {budget:.2f} ms per sticker; for 3x TE in this run: "
        f"{te_ms / 3:.2f} ms. Measured end to end: {q_ms:.2f} ms.",
        "* Done for this run: (1) page faults: every decoded frame, copy and PDQ work array used to be a "
        "fresh ~1 MB allocation faulted in page by page, which on this VM cost more than libwebp itself; "
        "Pillow now keeps up to 8 freed blocks (`media.images.PILLOW_BLOCKS_MAX`) and fastpdq keeps "
        "per-thread scratch arrays (query path: ~990 -> under 20 minor page faults per file). (2) Frames are array-backed "
        "read-only images (`media.images.PixelImage`): plain PDQ and the canonical form read the decoded "
        "pixels without Pillow's `tobytes` copies, and a still without an EXIF turn is copied once, not "
        f"twice. (3) fastpdq: plain PDQ + 8 dihedral {before:.2f} ms in pdqhash -> {plain:.2f} ms; the "
        "Jarosz row passes run 64 rows at once on a transposed strip (SIMD across rows instead of one "
        "dependent add chain per row), luma reads RGBA as 32-bit words, and DCT, dihedral, median, bits "
        "and quality are one compiled call. Same float operations per output value: bit-identical to "
        "pdqhash on the reference set, every tests/data frame, 6,003 shared-corpus frames and random sizes.",
        f"* Where the {parts:.2f} ms of stages go: libwebp (Pillow open+load) {libwebp:.2f} ms, the rest of "
        f"decode {max(decode - libwebp, 0):.2f} ms, plain PDQ {plain:.2f} ms, canonical form {canon:.2f} ms "
        f"(another module), canonical PDQ {cpdq:.2f} ms, occluded forms + PDQs {occ:.2f} ms, "
        f"MD5+SHA-256 {_stage(res, 'MD5'):.2f} ms. Each stage "
        f"is timed repeating it on data already in cache; end to end costs {q_ms - parts:.2f} ms more in this run "
        "(file read, the hasher's Python glue, and stages evicting each other's data from the 1 MB per-core L2 "
        "cache while other jobs share the machine); that gap was not attributed further.",
        "* Left to win: fastpdq's filter passes are memory-bound (three 1 MB strip transposes per frame); "
        "computing luma per strip and running the first column pass in place (about 1.3 MB touched "
        "instead of 3 MB) was measured slower (0.82 vs 0.62 ms), and reading each strip's rows with "
        "gathers instead of transposing was slower too (0.34 vs ~0.2 ms per pass). "
        "A direct libwebp path (frame bytes wrapped without Pillow's core) saved 0.18 ms of decode but "
        "made glibc fault in 2 MB per file again (the frame's bytes are malloc'd outside Pillow's cache), "
        "so it was dropped.",
        _canonical_line(canon, parts, q_ms, te_ms),
        *tuned_line,
        _scaling_line(res),
    ]


def _canonical_line(canon: float, parts: float, q_ms: float, te_ms: float) -> str:
    """The canonical form's share, and a labelled projection when it is over its budget."""
    if canon <= CANONICAL_BUDGET_MS:
        return (f"* The canonical form costs {canon:.2f} ms ({canon / parts:.0%} of the stages), within its "
                f"{CANONICAL_BUDGET_MS} ms budget.")
    at_budget = q_ms - canon + CANONICAL_BUDGET_MS
    return (f"* The canonical form is {canon / parts:.0%} of the stages. At its {CANONICAL_BUDGET_MS} ms budget this "
            f"run's figures give about {at_budget:.2f} ms = {1000 / at_budget:.0f}/s and {te_ms / at_budget:.2f}x TE "
            "(a projection, not a measurement).")


def _scaling_line(res: dict) -> str:
    """What the folder-scan table says about using both cores in this run."""
    pools = {r["workers"]: r["files_per_s"] for r in res["scan_scaling"] if r["mode"] == "sandboxed pool"}
    if 1 not in pools or 2 not in pools:
        return "* Folder scans: the sandboxed pool was not measured in this run."
    ratio = pools[2] / pools[1]
    note = ("" if ratio >= 1.5 else " The machine's load average was "
            f"{res['machine']['load_avg_at_end']:.1f} on 2 cores, so the second worker had no free core.")
    return (f"* Folder scans (wall clock): the sandboxed pool ran {pools[1]:.0f} files/s with 1 worker and "
            f"{pools[2]:.0f} with 2 ({ratio:.2f}x).{note}")


def plot(res: dict, path: Path) -> None:
    """Two panels: files/s per system (static WebP, goal line) and the per-stage ms bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    static = res["rows"]["static_webp"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.4]})
    names = ["te_pdq", "sg_query_pdqhash", "sg_query", "sg_bank"]
    labels = ["TE PdqSignal\n(plain PDQ)", "sg query\n(pdqhash,\nbefore)", "sg query\n(fastpdq)",
              "sg bank\n(fastpdq)"]
    vals = [static[n]["files_per_s"] for n in names]
    ax1.bar(labels, vals, color=["#888", "#c9a", "#37a", "#5a8"])
    ax1.axhline(res["goal_files_per_s"], color="red", ls="--", lw=1, label=f"goal {res['goal_files_per_s']:.0f}/s")
    ax1.axhline(res["goal_ratio_vs_te"] * static["te_pdq"]["files_per_s"], color="orange", ls=":", lw=1,
                label=f"{res['goal_ratio_vs_te']:.0f}x TE")
    for i, v in enumerate(vals):
        ax1.text(i, v, f"{v:.0f}", ha="center", va="bottom")
    ax1.set_ylabel("static 512x512 WebP stickers / CPU-second")
    ax1.tick_params(axis="x", labelsize=8)
    ax1.legend(fontsize=8)
    stages = [s for s in res["stages_ms"] if not s["stage"].startswith("  of which")]
    ax2.barh([s["stage"].strip() for s in stages][::-1], [s["ms"] for s in stages][::-1], color="#37a")
    ax2.set_xlabel("CPU ms per sticker (best round)")
    ax2.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"Hashing speed, {res['machine']['cpu']}, 1 core, {res['machine']['date_utc']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(res: dict, out: Path) -> None:
    """Write ``hash.json``, ``hash.md`` and ``hash.png`` into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "hash.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "hash.md").write_text(render_markdown(res))
    plot(res, out / "hash.png")
