"""Detection benchmark, report side: metrics from the scored groups, JSON, Markdown, plots.

Metrics per system (definitions repeated in the generated Markdown):

* recall at 31: share of a transform's queries whose own bank item the system reports
  at the default threshold (the real Matcher / python-threatexchange PDQIndex decide);
* recall at precision 99.99 %: the largest threshold t (bits) at which
  TP / (TP + FP) >= 0.9999, where TP = that transform's queries within t of their own
  item, FP = (query, other item) pairs within t from that transform's queries plus every
  distractor query; the recall at that t is reported with t;
* false matches at 31: distractor queries reported as some known item (and the number
  of such pairs); plus wrong-item pairs of transformed known queries.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path

import numpy as np

from . import detect_metrics as dm

SYSTEM_NAMES = {"hma": "HMA PdqSignal", "sg_plain": "stickerguard plain PDQ",
                "sg_canonical": "stickerguard canonical"}
PRECISION = 0.9999
#: Heading of the hand-written section that a rerun keeps (see :func:`write`).
NOTES = "## Notes (written by hand"


def machine() -> str:
    """``nproc``, CPU model and RAM of this machine, one line."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        ram = f"{mem / 1024 ** 2:.1f} GiB RAM"
    except (OSError, StopIteration):
        ram = "RAM unknown"
    return f"{os.cpu_count()} cores ({model}), {ram}, {platform.python_implementation()} {platform.python_version()}"


def _recall_at_precision(own: np.ndarray, false_hist: np.ndarray) -> tuple[float, int]:
    tp = np.cumsum(np.bincount(np.minimum(own, dm.NEVER), minlength=dm.NEVER + 1))[: dm.NEVER]
    fp = np.cumsum(false_hist)[: dm.NEVER]
    ok = (tp + fp == 0) | (tp >= PRECISION * (tp + fp))
    t = int(np.flatnonzero(ok)[-1]) if ok.any() else -1  # TP grows with t: the largest ok t has max recall
    return (float(tp[t]) / len(own) if t >= 0 and len(own) else 0.0), t


def metrics(scored: dict) -> dict:
    """Per system: per-transform rows, overall row, distractor false matches, min distances."""
    groups = scored["groups"]
    out: dict = {}
    for s in SYSTEM_NAMES:
        dis = groups.get("distractor", {}).get(s)
        dis_hist = dis["false_hist"] if dis else np.zeros(dm.NEVER + 1, np.int64)
        rows, all_own, all_hist, hits = {}, [], dis_hist.copy(), 0
        for t, g in groups.items():
            if t == "distractor":
                continue
            st = g[s]
            own = np.array(st["own"], dtype=np.int64)
            r, thr = _recall_at_precision(own, st["false_hist"] + dis_hist)
            rows[t] = {"n": g["n"], "errors": g["errors"], "recall31": st["hits31"] / g["n"],
                       "recall_p9999": r, "t_p9999": thr, "wrong_pairs31": st["false31"],
                       "median_own": float(np.median(own)) if len(own) else None,
                       "min_false": int(min(st["nearest_false"], default=dm.NEVER))}
            all_own.append(own)
            all_hist += st["false_hist"]
            hits += st["hits31"]
        own = np.concatenate(all_own) if all_own else np.zeros(0, np.int64)
        r, thr = _recall_at_precision(own, all_hist)
        out[s] = {"transforms": rows,
                  "overall": {"n": int(len(own)), "recall31": hits / max(1, len(own)), "recall_p9999": r,
                              "t_p9999": thr},
                  "distractor": {"n": groups.get("distractor", {}).get("n", 0),
                                 "false_queries31": dis["queries_false31"] if dis else 0,
                                 "false_pairs31": dis["false31"] if dis else 0,
                                 "min_false": int(min(dis["nearest_false"], default=dm.NEVER)) if dis else dm.NEVER},
                  "true_hist": np.bincount(np.minimum(own, dm.NEVER), minlength=dm.NEVER + 1).tolist(),
                  "false_hist": all_hist.tolist()}
    return out


def _plots(out: Path, m: dict, order: list[str]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
    edges = np.arange(0, 162, 4)  # 4-bit bins (most PDQ distances here are even)
    for ax, s in zip(axes, SYSTEM_NAMES):
        for key, colour, label in (("false_hist", "tab:red", "false pairs"), ("true_hist", "tab:blue", "true pairs")):
            h = np.array(m[s][key], dtype=np.float64)
            binned = np.add.reduceat(h[:160], edges[:-1]) / max(1.0, h.sum())
            ax.stairs(np.where(binned > 0, binned, np.nan), edges, color=colour, fill=True, alpha=0.5, label=label)
        ax.axvline(31.5, color="k", ls="--", lw=1, label="threshold 31")
        ax.set_yscale("log")
        ax.set_title(SYSTEM_NAMES[s])
        ax.set_xlabel("item distance (bits, 4-bit bins)")
    axes[0].set_ylabel("share of pairs (log)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "detect_hist.png", dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(15, 4))
    w = 0.27
    for i, s in enumerate(SYSTEM_NAMES):
        vals = [m[s]["transforms"][t]["recall31"] * 100 for t in order]
        ax.bar(np.arange(len(order)) + (i - 1) * w, vals, w, label=SYSTEM_NAMES[s])
    ax.axhline(95, color="k", ls="--", lw=1)
    ax.set_xticks(np.arange(len(order)), order, rotation=40, ha="right")
    ax.set_ylabel("recall at 31 bits (%)")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "detect_recall.png", dpi=90)
    plt.close(fig)
    return ["detect_hist.png", "detect_recall.png"]


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def write(out: Path, run: dict, scored: dict, *, quick: bool) -> Path:
    """Write detect.json, detect.md and the plots into ``out``; returns the Markdown path."""
    m = metrics(scored)
    order = list(m["sg_canonical"]["transforms"])
    plots = _plots(out, m, order)
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    run = dict(run, date=date, machine=machine(), disagreements=scored["disagreements"],
               bank_hashes=scored["bank_hashes"])
    pairs = scored.get("false_pairs", {})
    (out / "detect.json").write_text(json.dumps({"run": run, "metrics": m, "false_pairs": pairs}, indent=1))
    sg = m["sg_canonical"]
    goals = [("recall >= 99 % overall (at 31)", sg["overall"]["recall31"] >= 0.99,
              f"{_pct(sg['overall']['recall31'])} %"),
             ("recall >= 95 % on every transform (at 31)",
              all(r["recall31"] >= 0.95 for r in sg["transforms"].values()),
              ", ".join(f"{t} {_pct(r['recall31'])} %" for t, r in sg["transforms"].items() if r["recall31"] < 0.95)
              or "all >= 95 %"),
             ("0 false matches among distractors (at 31)", sg["distractor"]["false_queries31"] == 0,
              f"{sg['distractor']['false_queries31']} distractors matched")]
    L = [f"# Detection benchmark{' (quick)' if quick else ''}", "",
         f"Machine: {run['machine']}. Date: {date}. Command: `{' '.join(run['argv'])}` "
         f"({run['workers']} worker processes, {run['seconds_total']} s total).", "",
         f"Known set: {run['known']} items ({run['known_animated']} animated) from {run['known_sources']}; "
         f"distractors: {run['distractors']} from {run['sources']}. Exact pixel duplicates (up to mirror "
         f"and rotation) removed before the split: {run.get('duplicates_removed', 0)}. Packages: "
         + ", ".join(f"{k} {v}" for k, v in run["packages"].items()) + ".", "",
         f"Bank hashes indexed: {run['bank_hashes']}. Files that failed to transform or hash: "
         f"{run['error_count']}. Matcher vs numpy item-distance disagreements at 31: {run['disagreements']}.", "",
         "## Goals (stickerguard canonical)", "", "| goal | met | measured |", "|---|---|---|"]
    L += [f"| {g} | {'yes' if ok else '**no**'} | {v} |" for g, ok, v in goals]
    L += ["", "## Per transform", "",
          "Recall at the default threshold 31 (%), recall at precision 99.99 % (%, with the threshold t it "
          "allows), median distance of the true pair (bits).", "",
          "| transform | n | HMA @31 | plain @31 | canonical @31 | HMA @P | plain @P | canonical @P "
          "| median bits HMA / plain / canonical |", "|---|---|---|---|---|---|---|---|---|"]
    for t in order:
        r = {s: m[s]["transforms"][t] for s in SYSTEM_NAMES}
        L.append(f"| {t} | {r['hma']['n']} | " + " | ".join(_pct(r[s]["recall31"]) for s in SYSTEM_NAMES) + " | "
                 + " | ".join(f"{_pct(r[s]['recall_p9999'])} (t={r[s]['t_p9999']})" for s in SYSTEM_NAMES)
                 + " | " + " / ".join(f"{r[s]['median_own']:.0f}" if r[s]["median_own"] is not None else "-"
                                      for s in SYSTEM_NAMES) + " |")
    o = {s: m[s]["overall"] for s in SYSTEM_NAMES}
    L.append(f"| **overall** | {o['hma']['n']} | " + " | ".join(f"**{_pct(o[s]['recall31'])}**" for s in SYSTEM_NAMES)
             + " | " + " | ".join(f"{_pct(o[s]['recall_p9999'])} (t={o[s]['t_p9999']})" for s in SYSTEM_NAMES) + " | |")
    L += ["", "## False matches", "", "| | HMA | plain | canonical |", "|---|---|---|---|"]
    d = {s: m[s]["distractor"] for s in SYSTEM_NAMES}
    L.append(f"| distractors matched at 31 (of {d['hma']['n']}) | "
             + " | ".join(str(d[s]["false_queries31"]) for s in SYSTEM_NAMES) + " |")
    L.append("| distractor-item pairs at 31 | " + " | ".join(str(d[s]["false_pairs31"]) for s in SYSTEM_NAMES) + " |")
    L.append("| transformed known queries reported as another item at 31 (pairs) | "
             + " | ".join(str(sum(r["wrong_pairs31"] for r in m[s]["transforms"].values())) for s in SYSTEM_NAMES) + " |")
    L.append("| smallest distractor-item distance (bits) | " + " | ".join(str(d[s]["min_false"]) for s in SYSTEM_NAMES) + " |")
    L.append("| smallest wrong-item distance of a transformed query (bits) | "
             + " | ".join(str(min(r["min_false"] for r in m[s]["transforms"].values())) for s in SYSTEM_NAMES) + " |")
    if pairs:
        L += ["", "Distractor false matches at 31 by (distractor source, known item source), pairs:", "",
              "| distractor source | known source | HMA | plain | canonical |", "|---|---|---|---|---|"]
        by: dict[tuple, dict] = {}
        for s in SYSTEM_NAMES:
            for dis_id, known_id, _d in pairs.get(s, []):
                key = (dis_id.split("/")[0], known_id.split("/")[0])
                by.setdefault(key, {k: 0 for k in SYSTEM_NAMES})[s] += 1
        for key, c in sorted(by.items(), key=lambda kv: -kv[1]["sg_canonical"]):
            L.append(f"| {key[0]} | {key[1]} | " + " | ".join(str(c[s]) for s in SYSTEM_NAMES) + " |")
    L += ["", "## Plots", "", "Distance of true pairs (query, own item) vs false pairs (query, any other item), all "
          "transforms pooled; item distance as the Matcher would need it:", "", f"![histogram]({plots[0]})", "",
          "Recall at 31 per transform:", "", f"![recall]({plots[1]})", ""]
    if run["errors"]:
        L += ["## Errors (first 50)", ""] + [f"* {e}" for e in run["errors"]] + [""]
    md = out / "detect.md"
    notes = ""  # a hand-written "## Notes" section at the end of an earlier report is kept
    if md.exists() and NOTES in md.read_text():
        notes = md.read_text()[md.read_text().index(NOTES):]
    md.write_text("\n".join(L) + ("\n" + notes if notes else ""))
    return md
