"""PDQIndex (faiss binary, Hamming radius) and ExactIndex."""

from __future__ import annotations

import numpy as np
import pytest

from stickerguard.index import ExactIndex, PDQIndex, pdq_hex_to_array, plan_flips, plan_widths
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


def test_save_load_round_trip(tmp_path, rng):  # flat structure
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


def test_load_rejects_other_directories(tmp_path):
    with pytest.raises(ValueError, match=r"empty: not a saved PDQIndex \(no pdq.json\)$"):
        PDQIndex.load(tmp_path / "empty")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "pdq.json").write_text('{"format": 0}')
    with pytest.raises(ValueError, match=r"pdq.json: unsupported format 0$"):
        PDQIndex.load(tmp_path / "old")


# --- multi-index hashing: exact against brute force ---------------------------------


def near_duplicates(codes: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """m queries: held codes with k = 0..40 bits flipped (cycling), as in the benchmark."""
    q = codes[rng.integers(0, len(codes), m)].copy()
    bits = np.unpackbits(q, axis=1)
    for i in range(m):
        bits[i, rng.choice(256, i % 41, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def brute(codes: np.ndarray, ids: np.ndarray, queries: np.ndarray, r: int) -> set:
    d = np.bitwise_count(queries.view(np.uint64)[:, None, :] ^ codes.view(np.uint64)[None]).sum(axis=2)
    qi, pos = np.nonzero(d <= r)
    return set(zip(qi.tolist(), ids[pos].tolist(), d[qi, pos].tolist()))


@pytest.fixture(scope="module")
def mih_index():
    rng = np.random.default_rng(99)
    codes = rng.integers(0, 256, (4000, 32), dtype=np.uint8)
    ids = np.arange(4000, dtype=np.int64) * 3 + 7
    idx = PDQIndex(crossover=1000)
    idx.add(ids[:3000], codes[:3000])  # >= crossover: compacted into MIH tables
    idx.add(ids[3000:], codes[3000:])  # tail of 1000 >= max(crossover, 3000 // 8): rebuilt
    return idx, codes, ids, rng


def test_mih_equals_brute_force_on_thousands_of_queries(mih_index):
    idx, codes, ids, rng = mih_index
    assert idx.structure == "mih+flat" and len(idx) == 4000
    queries = np.concatenate([near_duplicates(codes, 2000, rng),
                              rng.integers(0, 256, (500, 32), dtype=np.uint8)])
    for r in (0, 8, 31, 32, 47, 90):  # 90: MIH would probe too much, brute-force path
        hits = idx.search(queries, r)
        got = set(zip(hits.query.tolist(), hits.ids.tolist(), hits.dist.tolist()))
        assert got == brute(codes, ids, queries, r), r
    hits = idx.search(queries, 31)
    assert len(hits) == 1568  # ~2000 * 32/41 near-duplicates with k <= 31 flipped bits
    order = np.lexsort((hits.ids, hits.dist, hits.query))
    assert (order == np.arange(len(hits))).all()
    assert (hits.codes == codes[(hits.ids - 7) // 3]).all()


@pytest.mark.parametrize("batched", [False, True])
def test_both_mih_kernels_equal_brute_force(mih_index, batched):
    """The one-query kernel and the batch kernel (candidates reordered by position)."""
    idx, codes, ids, rng = mih_index
    mih = idx._mih
    queries = np.concatenate([near_duplicates(codes, 1500, rng),
                              rng.integers(0, 256, (300, 32), dtype=np.uint8)])
    words = idx._codes[:idx.base].view(np.uint64)
    for r in (0, 5, 31, 40):
        q, p, d = mih.search(words, queries, r, 1000, batched=batched)
        got = set(zip((q - 1000).tolist(), ids[p].tolist(), d.tolist()))
        assert len(got) == len(q)  # each (query, hash) pair reported once
        assert got == brute(codes, ids, queries, r), r


def test_threaded_batch_equals_single_queries(mih_index):
    """A batch is cut into chunks searched in threads; hits equal one-by-one searches."""
    idx, codes, ids, _ = mih_index
    queries = near_duplicates(codes, 2100, np.random.default_rng(5))  # 3 chunks of 700
    batch = idx.search(queries, 31)
    assert set(zip(batch.query.tolist(), batch.ids.tolist(), batch.dist.tolist())) == brute(
        codes, ids, queries, 31)
    one = [idx.search(queries[i:i + 1], 31) for i in range(0, 2100, 7)]
    for i, hits in zip(range(0, 2100, 7), one):
        mine = batch.query == i
        assert (batch.ids[mine] == hits.ids).all() and (batch.dist[mine] == hits.dist).all()
    assert len(batch) == 1641  # ~2100 * 32/41 near-duplicates with k <= 31 flipped bits


def test_mih_tail_and_tombstones_are_exact(mih_index):
    _, codes, ids, rng = mih_index
    idx = PDQIndex(crossover=1000)
    idx.add(ids[:2000], codes[:2000])
    assert (idx.structure, idx._base) == ("mih+flat", 2000)
    idx.add(ids[2000:2100], codes[2000:2100])  # tail: flat scan, no rebuild
    assert idx._base == 2000 and len(idx) == 2100
    assert idx.remove(ids[:2100:3].tolist() + [1]) == 700  # id 1 is not held
    live = np.ones(2100, dtype=bool)
    live[::3] = False
    queries = near_duplicates(codes[:2100], 600, rng)
    want = brute(codes[:2100][live], ids[:2100][live], queries, 31)
    hits = idx.search(queries, 31)
    assert set(zip(hits.query.tolist(), hits.ids.tolist(), hits.dist.tolist())) == want
    idx.compact()
    assert (idx._base, idx._n, len(idx)) == (1400, 1400, 1400)
    hits = idx.search(queries, 31)
    assert set(zip(hits.query.tolist(), hits.ids.tolist(), hits.dist.tolist())) == want


def test_added_hash_found_at_once_and_removed_never(mih_index):
    _, codes, ids, _ = mih_index
    idx = PDQIndex(crossover=1000)
    idx.add(ids[:1500], codes[:1500])
    new = codes[3999:4000]
    assert len(idx.search(new, 0)) == 0
    idx.add([10**12], new, payload=[42])
    hits = idx.search(new, 0)
    assert (hits.ids.tolist(), hits.payload.tolist()) == ([10**12], [42])
    assert idx.payload_of([10**12]).tolist() == [42]
    assert idx.remove([10**12]) == 1
    assert len(idx.search(new, 256 - 0)) == 1500 and 10**12 not in idx.search(new, 256).ids
    assert idx.contains([10**12, ids[0]]).tolist() == [False, True]
    idx.add([10**12], new)  # an id may come back after removal
    assert idx.search(new, 0).ids.tolist() == [10**12]


def test_mih_save_load_round_trip(tmp_path, mih_index):
    idx, codes, _ids, rng = mih_index
    idx.save(tmp_path / "pdq")
    loaded = PDQIndex.load(tmp_path / "pdq")
    assert loaded.structure == "mih+flat" and len(loaded) == len(idx)
    queries = near_duplicates(codes, 300, rng)
    a, b = idx.search(queries, 31), loaded.search(queries, 31)
    assert (a.ids == b.ids).all() and (a.query == b.query).all() and len(a) > 200


def test_plans():
    # 10 M: 8 x 22 bits probed with 2 flips, 4 x 20 bits with 1 (fewest candidates that fit)
    assert plan_widths(10_000_000) == (22,) * 8 + (20,) * 4
    assert plan_widths(100_000) == (16,) * 16
    assert plan_flips((22,) * 8 + (20,) * 4, 31, 10_000_000) == (2,) * 8 + (1,) * 4
    # the same widths, fewer codes: flips move to where probes are cheaper than candidates
    assert plan_flips((22,) * 8 + (20,) * 4, 31, 1000) == (2,) * 4 + (1,) * 4 + (2,) * 4
    assert plan_flips((16,) * 16, 31) == (1,) * 16  # python-threatexchange's nflip=1
    assert plan_flips((16,) * 16, 5) == (0,) * 6 + (-1,) * 10  # 6 substrings suffice
    for r in range(0, 100):
        assert sum(f + 1 for f in plan_flips(plan_widths(10**6), r)) >= r + 1


def test_exact_index():
    idx = ExactIndex()
    md5 = "d41d8cd98f00b204e9800998ecf8427e"
    idx.add([1, 2, 3], [md5, md5, "0" * 32])
    assert len(idx) == 3
    assert idx.lookup(md5) == [1, 2]
    assert idx.value_of(3) == "0" * 32
    assert idx.lookup("f" * 32) == []
    assert idx.remove([1, 7]) == 1
    assert idx.lookup(md5) == [2]
    idx.remove([2])
    assert idx.lookup(md5) == []
    with pytest.raises(ValueError, match="^id 3 is already in the index$"):
        idx.add([3], [md5])
    with pytest.raises(ValueError, match="^1 ids but 2 values$"):
        idx.add([9], [md5, md5])
