"""PDQIndex (faiss binary, Hamming radius) and ExactIndex."""

from __future__ import annotations

import numpy as np
import pytest

from stickerguard.index import ExactIndex, PDQIndex, pdq_hex_to_array
from stickerguard.signals.base import hamming


def random_hash(rng: np.random.Generator) -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def flip(h: str, k: int, rng: np.random.Generator) -> str:
    """``h`` with exactly ``k`` distinct bits flipped."""
    n = int(h, 16)
    for bit in rng.choice(256, size=k, replace=False):
        n ^= 1 << int(bit)
    return f"{n:064x}"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)


def test_hex_packing_matches_bytes():
    arr = pdq_hex_to_array(["00" * 31 + "ff", "80" + "00" * 31])
    assert arr.shape == (2, 32) and arr.dtype == np.uint8
    assert arr[0, 31] == 255 and arr[1, 0] == 128 and int(arr.sum()) == 255 + 128


def test_hex_packing_rejects_bad_hash():
    with pytest.raises(ValueError, match=r"^hash 1 is not a 64-hex-digit PDQ hash: 'abc'$"):
        pdq_hex_to_array(["0" * 64, "abc"])
    with pytest.raises(ValueError, match="hash 0 is not a 64-hex-digit PDQ hash: 'z"):
        pdq_hex_to_array(["z" * 64])


def test_threshold_is_inclusive(rng):
    base = random_hash(rng)
    near = flip(base, 31, rng)
    far = flip(base, 32, rng)
    assert hamming(base, near) == 31 and hamming(base, far) == 32
    idx = PDQIndex()
    idx.add([5, 6], [near, far])
    assert idx.range_search([base], 31) == [[(5, 31)]]
    assert idx.range_search([base], 32) == [[(5, 31), (6, 32)]]
    assert idx.range_search([base], 30) == [[]]
    assert idx.range_search([near], 0) == [[(5, 0)]]


def test_batched_queries_sorted_by_distance_then_id(rng):
    base = random_hash(rng)
    other = random_hash(rng)
    h3 = flip(base, 3, rng)
    h1 = flip(base, 1, rng)
    idx = PDQIndex()
    idx.add([30, 10, 20, 40], [h3, h1, h1, other])
    assert len(idx) == 4
    res = idx.range_search([base, other, random_hash(rng)], 10)
    assert res == [[(10, 1), (20, 1), (30, 3)], [(40, 0)], []]
    # Distances agree with the pure-Python Hamming distance.
    assert hamming(base, h3) == 3


def test_add_remove_query_again(rng):
    h = random_hash(rng)
    idx = PDQIndex()
    idx.add([1, 2], [h, flip(h, 4, rng)])
    assert idx.range_search([h], 31) == [[(1, 0), (2, 4)]]
    assert idx.remove([1, 99]) == 1
    assert len(idx) == 1
    assert idx.range_search([h], 31) == [[(2, 4)]]
    assert idx.remove([2]) == 1
    assert len(idx) == 0
    assert idx.range_search([h], 256) == [[]]
    assert idx.remove([2]) == 0


def test_add_rejects_duplicates_and_mismatch(rng):
    h = random_hash(rng)
    idx = PDQIndex()
    idx.add([1], [h])
    with pytest.raises(ValueError, match="^id 1 is already in the index$"):
        idx.add([1], [h])
    with pytest.raises(ValueError, match="^id 3 given more than once$"):
        idx.add([3, 3], [h, h])
    with pytest.raises(ValueError, match="^2 ids but 1 hashes$"):
        idx.add([4, 5], [h])
    with pytest.raises(ValueError, match="^ids must be >= 0, saw -1$"):
        idx.add([-1], [h])
    assert len(idx) == 1


@pytest.mark.parametrize("bad", [-1, 257, 3.5, True])
def test_bad_threshold(bad, rng):
    with pytest.raises(ValueError, match="threshold must be"):
        PDQIndex().range_search([random_hash(rng)], bad)


def test_empty_queries_and_empty_index(rng):
    idx = PDQIndex()
    assert idx.range_search([], 31) == []
    assert idx.range_search([random_hash(rng)], 31) == [[]]


def test_save_load_round_trip(tmp_path, rng):
    hashes = [random_hash(rng) for _ in range(50)]
    idx = PDQIndex()
    idx.add(range(100, 150), hashes)
    idx.remove([100])
    path = tmp_path / "pdq.fbin"
    idx.save(path)
    loaded = PDQIndex.load(path)
    assert len(loaded) == 49
    assert sorted(loaded.ids().tolist()) == list(range(101, 150))
    q = flip(hashes[7], 9, rng)
    assert loaded.range_search([q, hashes[0]], 31) == [[(107, 9)], []]
    loaded.add([100], [hashes[0]])
    assert loaded.range_search([hashes[0]], 0) == [[(100, 0)]]


def test_load_rejects_plain_flat_index(tmp_path):
    import faiss

    path = tmp_path / "flat.fbin"
    faiss.write_index_binary(faiss.IndexBinaryFlat(256), str(path))
    with pytest.raises(ValueError, match="not a PDQIndex file \\(found IndexBinaryFlat\\)"):
        PDQIndex.load(path)


def test_exact_index():
    idx = ExactIndex()
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    idx.add([1, 2, 3], [md5, md5, "0" * 32])
    assert len(idx) == 3
    assert idx.lookup(md5) == [1, 2]
    assert idx.lookup("f" * 32) == []
    assert idx.remove([1, 7]) == 1
    assert idx.lookup(md5) == [2]
    idx.remove([2])
    assert idx.lookup(md5) == []
    with pytest.raises(ValueError, match="^id 3 is already in the index$"):
        idx.add([3], [md5])
    with pytest.raises(ValueError, match="^1 ids but 2 values$"):
        idx.add([9], [md5, md5])
