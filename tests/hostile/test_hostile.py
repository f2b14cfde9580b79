"""Scan the generated hostile corpus through the sandboxed pool: every file gives its
expected outcome, every refusal names its file, nothing crashes, peak RSS < 1 GB and no
file takes 2 s. The scan runs in a fresh interpreter so that its peak RSS is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hostile_expected import EXPECTED

HERE = Path(__file__).resolve().parent


WARM_UP = (
    "from pathlib import Path; from stickerguard.isolate import DecoderPool; "
    "p = DecoderPool(1); p.hash(Path(%r).read_bytes(), name='warm-up.webp'); p.close()"
)


@pytest.fixture(scope="module")
def report(corpus) -> dict:
    root, _ = corpus
    # numba compiles the PDQ kernels once per install and caches them; a fresh clone pays
    # that (LLVM: a few hundred MB for a few seconds) on first use. Do it first, in its own
    # process, so the peak measured below is the scanner's steady state, not the compiler's.
    smile = HERE.parent / "data" / "whatsapp-sample-packs" / "1" / "01_Cuppy_smile.webp"
    subprocess.run([sys.executable, "-c", WARM_UP % str(smile)], check=True, timeout=300)
    proc = subprocess.run([sys.executable, str(HERE / "hostile_corpus.py"), "--scan", str(root)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_corpus_has_at_least_200_named_files(corpus) -> None:
    _, files = corpus
    assert len(files) >= 200
    kinds = {p.name.split("_")[0] for p in files}
    assert {"trunc", "flip", "seed", "zipbomb", "flood", "polyglot", "exif", "tgs", "webm", "gif"} <= kinds


def test_every_file_gives_its_expected_outcome(report) -> None:
    got = {r["path"]: r["outcome"] for r in report["results"]}
    wrong = {p: (got.get(p), want) for p, want in EXPECTED.items() if got.get(p) != want}
    extra = sorted(set(got) - set(EXPECTED))
    assert not wrong and not extra, f"(got, expected): {wrong}; unexpected results: {extra}"


def test_every_refusal_names_file_limit_and_value(report, corpus) -> None:
    root, _ = corpus
    for r in report["results"]:
        if r["outcome"] == "ok":
            continue
        archive = r["path"].split("!")[0]
        assert r["message"].startswith(f"{root}/{archive}"), r
        if r["outcome"].startswith("limit_exceeded:"):
            field = r["outcome"].split(":")[1]
            assert field in r["message"] or "limit" in r["message"], r
            assert any(ch.isdigit() for ch in r["message"]), r  # the value seen


def test_known_refusal_texts(report, corpus) -> None:
    root, _ = corpus
    msg = {r["path"]: r["message"] for r in report["results"]}
    assert msg["zipbomb_member-200MB.wastickers!a.webp"] == (
        f"{root}/zipbomb_member-200MB.wastickers: member 'a.webp' would expand to 200 MB (limit 64 MB)")
    assert msg["webp_10000-frames.webp"] == (
        f"{root}/webp_10000-frames.webp: animation has 10000 frames, over the limit of 2000 (max_frames)")
    assert msg["tgs_precomp-cycle.tgs"] == (
        f"{root}/tgs_precomp-cycle.tgs: Lottie precomps refer to each other in a cycle: a -> b -> a")
    assert msg["tgs_gzip-bomb_64MB.tgs"] == (
        f"{root}/tgs_gzip-bomb_64MB.tgs: decompressed Lottie JSON is over 16777216 bytes "
        "(max_tgs_json_bytes); stopped after 16777217 bytes")
    assert msg["flood_png_4097x4096.png"] == (
        f"{root}/flood_png_4097x4096.png: canvas 4097x4096 is 16781312 pixels, over the limit of 16777216 (max_pixels)")


def test_no_file_takes_2_seconds_and_peak_rss_under_1_gb(report) -> None:
    slow = [(r["path"], round(r["seconds"], 2)) for r in report["results"] if r["seconds"] >= 2.0]
    assert not slow
    # The whole run's peak: scanner plus live workers, summed at the same moment (sampled
    # from /proc every 5 ms). Each process's own lifetime peak must fit as well.
    assert report["peak_tree_rss_kb"] < 1 << 20, {k: v for k, v in report.items() if k != "results"}
    assert max(report["maxrss_self_kb"], report["maxrss_children_kb"]) < 1 << 19


def test_summary_counts_bad_files(report) -> None:
    s = report["summary"]
    outcomes = [r["outcome"] for r in report["results"]]
    assert s["stickers"] == len(outcomes)
    assert s["hashed"] == outcomes.count("ok")
    assert s["skipped"] == outcomes.count("unsupported_media")
    assert sum(s["errors"].values()) == len(outcomes) - s["hashed"] - s["skipped"]
