"""The load benchmark's quick mode runs end to end and writes its report files."""

from __future__ import annotations

import json

import pytest

from benchmarks.load_bench import main, make_hashes


def test_near_duplicate_queries_are_8_bits_from_a_bank_hash():
    bank, queries = make_hashes(50, queries=5)
    ints = [int(h, 16) for h in bank]
    assert [min(bin(int(q, 16) ^ b).count("1") for b in ints) for q in queries] == [8, 8, 8, 8, 8]


@pytest.mark.slow
def test_quick_mode_writes_json_md_png(tmp_path):
    assert main(["--quick", "--hashes", "2000", "--seconds", "1", "--tool", "python", "--no-anchor",
                 "--connections", "4", "--workers", "1", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "load.json").read_text())
    for scenario in ("lookup_hash", "lookup_file"):
        r = res[scenario]
        assert r["requests"] > 0 and r["errors"] == 0 and r["non_2xx"] == 0 and r["tool"] == "python-httpx"
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"]
    assert res["args"]["hashes"] == 2000 and res["server"]["ready_s"] > 0
    md = (tmp_path / "load.md").read_text()
    assert md.startswith("# Load: HTTP lookups against `stickerguard serve`")
    assert "| lookup by hash (GET, near-duplicate PDQ) |" in md
    assert (tmp_path / "load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
