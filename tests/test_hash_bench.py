"""The hash benchmark's quick mode runs end to end and writes its three outputs."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import hash_bench


@pytest.mark.slow
def test_quick_mode_writes_json_markdown_and_plot(tmp_path):
    allowed = os.sched_getaffinity(0)
    assert hash_bench.main(["--quick", "--rounds", "1", "--out", str(tmp_path)]) == 0
    assert os.sched_getaffinity(0) == allowed  # pinning to one core is undone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hash.json", "hash.md", "hash.png"]
    res = json.loads((tmp_path / "hash.json").read_text())
    assert res["files"] == {"static_webp": 25, "animated_webp": 21, "tgs": 7}  # collectible_phone.tgs too
    assert res["pdq_backend"] == "fastpdq"
    static = res["rows"]["static_webp"]
    assert sorted(static) == ["sg_bank", "sg_query", "sg_query_pdqhash", "sg_query_whole", "te_pdq"]
    assert all(row["hashes"] == 25 and row["errors"] == 0 and row["files_per_s"] > 0 for row in static.values())
    assert all(row["page_faults_per_file"] >= 0 for row in static.values())
    tuned = res["malloc_tuned"]
    assert tuned["env"] == {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}
    assert sorted(tuned["static_webp"]) == ["sg_query", "te_pdq"]
    assert all(row["hashes"] == 25 and row["errors"] == 0 for row in tuned["static_webp"].values())
    # python-threatexchange cannot open Lottie (.tgs) files; stickerguard hashes all 7
    assert res["rows"]["tgs"]["te_pdq"]["errors"] == 7 and res["rows"]["tgs"]["sg_query"]["errors"] == 0
    assert [s["stage"] for s in res["stages_ms"]][:2] == ["read file", "decode (media.decode)"]
    assert [(r["mode"], r["workers"], r["files"], r["errors"]) for r in res["scan_scaling"]] == [
        ("in-process (isolate=False)", 1, 52, 0), ("sandboxed pool", 1, 52, 0), ("sandboxed pool", 2, 52, 0)]
    md = (tmp_path / "hash.md").read_text()
    assert md.startswith("# Hashing speed\n") and "Command: `python -m benchmarks hash --quick --rounds 1`" in md
    assert "## Allocator sensitivity (static WebP, child process with glibc keeping freed memory)" in md
    assert (tmp_path / "hash.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
