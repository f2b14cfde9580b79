"""Run the atheris harness (fuzz/fuzz_decode.py) for a short bounded time, as CI does:
any untyped exception, hang (> 10 s) or native crash in the decoders fails this test."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_decode.py"


@pytest.mark.slow
def test_fuzz_decode_bounded(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    made = subprocess.run([sys.executable, str(FUZZ), "--make-seeds", str(corpus)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    assert int(made.stdout.split()[0]) >= 40
    run = subprocess.run([sys.executable, str(FUZZ), "-max_total_time=15", "-timeout=10", "-max_len=65536",
                          "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/", str(corpus)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-4000:]
    done = re.search(r"Done (\d+) runs in \d+ second", run.stderr)
    assert done and int(done.group(1)) > 100, run.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
