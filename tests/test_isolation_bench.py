"""The isolation benchmark's quick mode runs and writes its three outputs with the
expected shape (timings themselves are not asserted: they live in docs/bench)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_isolation_bench_quick(tmp_path: Path) -> None:
    pytest.importorskip("threatexchange")
    from benchmarks.isolation_bench import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "isolation.json").read_text())
    assert set(res["static"]) == set(res["animated"]) == {"te_pdq", "in_process", "pool_1_worker"}
    assert all(r["errors"] == 0 and r["files_per_s"] > 0 for r in res["static"].values())
    assert res["static"]["pool_1_worker"]["hashes"] == 25 * res["rounds"]
    same = res["same_allocator"]  # the child interpreter on the workers' malloc settings
    assert set(same["static"]) == {"te_pdq", "in_process", "pool_1_worker"}
    assert all(r["errors"] == 0 for r in same["static"].values())
    pool = same["static"]["pool_1_worker"]
    assert pool["parent_ms_per_file"] > 0 and pool["worker_ms_per_file"] > 0
    for floors in (same["floors"], res["floors"]):
        assert floors["scan_files"] == 26 and floors["round_trip"]["worker_ms"] > 0
    assert [r["workers"] for r in res["scan"]] == [1, 2] and all(r["files"] == 26 for r in res["scan"])
    assert res["lifecycle"]["cold_start_s"] > 0 and res["lifecycle"]["crash_to_next_hash_s"] > 0
    md = (tmp_path / "isolation.md").read_text()
    assert md.startswith("# Isolation overhead") and "isolation costs" in md and "Command: `python -m" in md
    assert "## glibc default settings in the scanner" in md and "round trip of a 12-byte file" in md
    assert (tmp_path / "isolation.png").stat().st_size > 5000
