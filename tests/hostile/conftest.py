"""The hostile corpus, generated once per test session into a temporary folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from hostile_corpus import generate  # noqa: E402


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> tuple[Path, list[Path]]:
    """(folder, files written) of the generated hostile corpus."""
    root = tmp_path_factory.mktemp("hostile")
    return root, generate(root)
