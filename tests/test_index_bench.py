"""The index benchmark's quick mode runs end to end and writes its table, JSON and plots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_index_bench_quick(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "index", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "index.json").read_text())
    assert set(results["machine"]) >= {"nproc", "cpu", "ram_gb", "date"}
    runs = {(r["system"], r["n"]): r for r in results["runs"]}
    assert set(runs) == {(s, n) for s in ("ours", "te", "matcher") for n in (20_000, 100_000)}
    for r in runs.values():
        assert "error" not in r, r
        assert r["recall"] == 1.0 and r["false_hits"] == 0  # every system is exact at 31
        assert r["queries"] == 153 and r["recall_queries"] == 48
        assert r["build_s"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 and r["batch_qps"] > 0
    assert runs["ours", 20_000]["structure"] == "flat"
    assert runs["ours", 100_000]["structure"] == "mih+flat"
    assert runs["ours", 100_000]["true_pairs"] == runs["te", 100_000]["true_pairs"]
    assert {(r["system"], r["n"]) for r in results["crossover"]} == {
        (s, n) for s in ("flat", "mih") for n in (3_000, 20_000)}
    md = (tmp_path / "index.md").read_text()
    assert md.startswith("# Index benchmark: stickerguard vs python-threatexchange's PDQIndex")
    for heading in ("## 20,000 hashes", "## 100,000 hashes", "## Crossover", "## Goals"):
        assert heading in md
    for png in ("latency", "memory", "time", "crossover"):
        assert (tmp_path / f"index_{png}.png").stat().st_size > 5_000
