"""Sandboxed decoder pool: same hashes as in-process, typed errors, and a worker that
crashes, hangs, spins or runs out of memory costs one file, never the pool."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stickerguard.errors import LimitExceeded, UnsupportedMedia
from stickerguard.isolate import DecoderPool, SandboxLimits, WorkerCrashed, WorkerTimeout
from stickerguard.isolate.protocol import signals_from_wire, signals_to_wire
from stickerguard.jobs import hash_upload
from stickerguard.match.scan import ScanSummary, scan
from stickerguard.media import decode
from stickerguard.signals import hash_bytes
from stickerguard.signals import REGIONS

DATA = Path(__file__).parent / "data"
CUPPY = DATA / "whatsapp-sample-packs/1/01_Cuppy_smile.webp"
ANIMATED = DATA / "whatsapp-sample-packs/2/08_AreYouOK.webp"
TGS = DATA / "telegram-tgs/phone.tgs"
CUPPY_PDQ = "8d26b0a75e97464fa05a2b7256e9fdadab61aa165c86555a9016aba16ffa5016"


@pytest.fixture(scope="module")
def pool():
    """Two warm workers that also answer the test misbehaviour ops."""
    with DecoderPool(2, test_hooks=True) as p:
        yield p


def test_pool_hashes_equal_in_process(pool: DecoderPool) -> None:
    for path in (CUPPY, ANIMATED, TGS):
        data = path.read_bytes()
        assert pool.hash(data, name=path.name) == hash_bytes(data, name=path.name, variants=False)
    sig = pool.hash(CUPPY.read_bytes(), name="c.webp", variants=True)
    assert sig.pdq == CUPPY_PDQ
    assert sig == hash_bytes(CUPPY.read_bytes(), name="c.webp", variants=True)


def test_pool_decode_returns_raw_frames(pool: DecoderPool) -> None:
    data = ANIMATED.read_bytes()
    got = pool.decode(data, name="a.webp", sample_interval_ms=250)
    want = decode(data, name="a.webp", sample_interval_ms=250)
    shape = lambda m: (m.format, m.width, m.height, m.animated, m.frame_count, m.duration_ms)  # noqa: E731
    assert shape(got) == shape(want) == ("webp", 512, 512, True, 16, 1584.0)
    assert [(f.index, f.timestamp_ms) for f in got.frames] == [(f.index, f.timestamp_ms) for f in want.frames]
    for a, b in zip(got.frames, want.frames):
        assert a.image.tobytes() == b.image.tobytes()


def test_worker_errors_are_typed_and_name_the_file(pool: DecoderPool) -> None:
    with pytest.raises(UnsupportedMedia) as err:
        pool.hash(b"hello world!", name="x.webp")
    assert str(err.value) == "x.webp: unrecognised format; first bytes: 68 65 6c 6c 6f 20 77 6f 72 6c 64 21"
    assert err.value.code == "unsupported_media"


def test_abort_costs_one_file_and_the_worker_is_replaced(pool: DecoderPool) -> None:
    before, replaced = set(pool.pids()), pool.replaced
    with pytest.raises(WorkerCrashed) as err:
        pool.request("abort", name="boom.webp")
    assert str(err.value) == "boom.webp: decoder process killed by SIGABRT (address-space limit 1024 MB)"
    assert err.value.code == "decoder_crashed"
    assert pool.replaced == replaced + 1
    assert len(pool.pids()) == 2 and set(pool.pids()) != before
    assert pool.hash(CUPPY.read_bytes(), name="c.webp").pdq == CUPPY_PDQ  # both workers still serve
    assert pool.hash(CUPPY.read_bytes(), name="c.webp").pdq == CUPPY_PDQ


def test_memory_limit_gives_limit_exceeded(pool: DecoderPool) -> None:
    with pytest.raises(LimitExceeded) as err:
        pool.request("alloc", str(2 << 30).encode(), name="big.webp")
    assert str(err.value) == "big.webp: decoder ran out of memory (worker address-space limit 1024 MB)"
    assert err.value.field == "worker_memory"


def test_worker_rlimits_and_fds(pool: DecoderPool) -> None:
    r, w = os.pipe()
    os.set_inheritable(r, True)  # even an inheritable parent fd must not reach a new worker
    try:
        pool.request("abort")  # force a replacement started after the pipe exists
    except WorkerCrashed:
        pass
    try:
        fds = [pool.request("fds")["fds"] for _ in range(2)]
    finally:
        os.close(r)
        os.close(w)
    for listed in fds:
        assert r not in listed and w not in listed
        assert len(listed) <= 8, listed  # 0-2, two protocol pipes, the listing's own fd
    for pid in pool.pids():
        limits = Path(f"/proc/{pid}/limits").read_text()
        assert "Max address space         1073741824           1073741824" in limits
        assert "Max core file size        0                    0" in limits
        assert "Max file size             16777216             16777216" in limits


def test_wall_clock_timeout() -> None:
    with DecoderPool(1, SandboxLimits(timeout_s=0.5), test_hooks=True) as p:
        with pytest.raises(WorkerTimeout) as err:
            p.request("sleep", b"30", name="slow.gif")
        assert str(err.value) == "slow.gif: decoding took longer than 0.5 s (wall-clock limit); worker killed"
        assert err.value.code == "decode_timeout"
        with pytest.raises(WorkerTimeout) as err:
            p.request("spin", name="spin.gif")  # CPU-bound: the wall clock catches it too
        assert p.replaced == 2
        assert p.hash(CUPPY.read_bytes(), name="c.webp").pdq == CUPPY_PDQ


def test_cpu_limit_kills_a_spinning_worker() -> None:
    with DecoderPool(1, SandboxLimits(cpu_seconds=1, timeout_s=20), test_hooks=True) as p:
        with pytest.raises(WorkerTimeout) as err:
            p.request("spin", name="spin.tgs")
        assert str(err.value) == "spin.tgs: decoding used more than 1 s of CPU (RLIMIT_CPU); worker killed by SIGXCPU"
        assert err.value.field == "cpu_seconds"


def test_signals_wire_round_trip_and_malformed_bodies_are_crashes(pool: DecoderPool) -> None:
    sig = hash_bytes(ANIMATED.read_bytes(), name="a.webp", variants=True)
    body = signals_to_wire(sig)
    assert signals_from_wire(body, "a.webp") == sig
    assert len(sig.frames) == 14 and len(sig.frames[0].pdq_dihedral) == 8
    bad = {
        "truncated": (body[:-1], f"body is {len(body) - 1} bytes, expected {len(body)}"),
        "no frames": (body[:85] + b"\0\0", "frame count 0 is out of range"),
        "short header": (body[:40], "unpack_from requires a buffer of at least 87 bytes"),
        "records missing": (body[:85] + b"\6\0" + body[87:87 + 25], "body is 112 bytes, too short for 6 frame records"),
        # bit 6 of the region mask (byte 24 of the first frame record) names no region
        "region bit": (body[:87 + 24] + b"\x40" + body[87 + 25:], "frame record out of range"),
        "non-ascii format": (body[:48] + b"\xffebp" + body[52:], "'ascii' codec can't decode byte 0xff"),
    }
    for what, (raw, message) in bad.items():
        with pytest.raises(WorkerCrashed) as err:
            signals_from_wire(raw, "x.webp")
        assert str(err.value).startswith(f"x.webp: decoder worker sent malformed signals: {message}"), what
    with pytest.raises(WorkerCrashed) as err:  # end to end: a worker's broken reply is not trusted
        pool.request("garbage", name="g.webp")
    assert str(err.value) == "g.webp: decoder worker sent malformed signals: body is 117 bytes, expected 144"


def test_occluded_forms_cross_the_wire() -> None:
    sig = hash_bytes(CUPPY.read_bytes(), name="c.webp", variants=True)
    occ = sig.frames[0].canonical_occluded
    assert [o[0] for o in occ] == list(REGIONS)  # bank side: every region
    back = signals_from_wire(signals_to_wire(sig), "c.webp")
    assert back == sig
    assert len(signals_to_wire(sig)) == len(signals_to_wire(dataclasses.replace(
        sig, frames=[dataclasses.replace(sig.frames[0], canonical_occluded=())]))) + 6 * (32 + 3)


def _slow_animation() -> bytes:
    """96 blocky-noise frames of 512x512 at 40 ms: ~16 sampled frames to hash (hundreds of ms)."""
    rng = np.random.default_rng(5)
    frames = [Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).resize((512, 512), Image.NEAREST)
              for _ in range(96)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=40, quality=10, method=0)
    return buf.getvalue()


def test_scan_goes_on_past_a_timeout(tmp_path: Path) -> None:
    (tmp_path / "a.webp").write_bytes(CUPPY.read_bytes())
    (tmp_path / "b_slow.webp").write_bytes(_slow_animation())
    (tmp_path / "c.webp").write_bytes((CUPPY.parent / "02_Cuppy_lol.webp").read_bytes())
    summary = ScanSummary()
    with DecoderPool(1, SandboxLimits(timeout_s=0.15)) as p:
        results = list(scan([tmp_path], pool=p, summary=summary))
    assert [r.name for r in results] == ["a.webp", "b_slow.webp", "c.webp"]
    assert results[0].signals.pdq == CUPPY_PDQ and results[2].signals is not None
    assert results[1].error.code == "decode_timeout"
    assert str(results[1].error) == f"{tmp_path}/b_slow.webp: decoding took longer than 0.15 s (wall-clock limit); worker killed"
    assert (summary.hashed, dict(summary.errors), summary.exit_code()) == (2, {"decode_timeout": 1}, 0)
    assert all(0 < r.seconds < 2 for r in results)


def test_hash_upload_goes_through_the_default_pool() -> None:
    from stickerguard.isolate import get_pool

    data = CUPPY.read_bytes()
    assert hash_upload(data, name="up.webp") == hash_bytes(data, name="up.webp", variants=False)
    assert get_pool().pids()  # the warm default pool is running
    with pytest.raises(UnsupportedMedia) as err:
        hash_upload(b"PK\x03\x04" + bytes(30), name="up.webp")
    assert str(err.value) == "up.webp: zip archive, not a media file"


def test_workers_outlive_the_thread_that_replaced_them() -> None:
    """PR_SET_PDEATHSIG follows the forking thread: a replacement started while serving a
    short-lived caller thread must survive that thread's exit."""
    import threading

    with DecoderPool(1, test_hooks=True) as p:
        def crash_from_a_thread() -> None:
            with pytest.raises(WorkerCrashed):
                p.request("abort")
            p.hash(CUPPY.read_bytes(), name="c.webp")  # the replacement is up (its prctl done)
        t = threading.Thread(target=crash_from_a_thread)
        t.start()
        t.join()  # the replacement was started during this thread's request; it has exited
        assert p.hash(CUPPY.read_bytes(), name="c.webp").pdq == CUPPY_PDQ
        assert p.replaced == 1


def test_importing_isolate_loads_no_decoder_so_prestart_runs_first() -> None:
    """``prestart`` is called before the scanner's own imports: the pool module must not
    pull in Pillow, numba, the signals or the media package."""
    import subprocess
    import sys

    code = ("import sys, stickerguard.isolate as i; "
            "print(sorted(m for m in ('PIL.Image', 'numba', 'numpy', 'stickerguard.signals', 'stickerguard.media') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_prestart_respects_isolate_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from stickerguard.isolate import pool as pool_module, prestart

    monkeypatch.setenv("STICKERGUARD_ISOLATE", "0")
    monkeypatch.setattr(pool_module, "_default", None)
    prestart()
    assert pool_module._default is None


def test_stream_requeues_the_files_behind_a_killed_worker() -> None:
    """hash_ordered keeps two files in each worker's pipe: when the worker dies, the file
    it was decoding gets decoder_crashed and the one queued behind it is hashed by the
    replacement."""
    import signal

    cuppy, slow = CUPPY.read_bytes(), _slow_animation()
    items = [("a.webp", cuppy), ("slow.webp", slow), ("b.webp", cuppy), ("c.webp", cuppy)]
    with DecoderPool(1) as p:
        stream = p.hash_ordered(items, lambda it: (it[1], it[0]), workers=1)
        results = [next(stream)]  # a.webp done; slow.webp decoding, b.webp queued behind it
        os.kill(p.pids()[0], signal.SIGKILL)
        results += list(stream)
        assert p.replaced == 1
    assert [item[0] for item, _ in results] == ["a.webp", "slow.webp", "b.webp", "c.webp"]
    sig, err, _ = results[1][1]
    assert sig is None and str(err) == "slow.webp: decoder process killed by SIGKILL (address-space limit 1024 MB)"
    assert [res[0].pdq for i, (_, res) in enumerate(results) if i != 1] == [CUPPY_PDQ] * 3


def test_stream_gives_its_worker_to_a_thread_that_waits() -> None:
    """A scan's stream holds workers only while no other thread waits for one: a
    hash() from another thread (the HTTP API) is served before the scan ends."""
    import threading

    data = CUPPY.read_bytes()
    with DecoderPool(1) as p:
        stream = p.hash_ordered([data] * 60, lambda d: (d, "c.webp"), workers=1)
        next(stream)
        served = threading.Event()
        got = []
        t = threading.Thread(target=lambda: (got.append(p.hash(TGS.read_bytes(), name="t.tgs")), served.set()))
        t.start()
        flags = [served.is_set() for _ in stream]
        t.join()
    assert len(flags) == 59 and flags[-1]  # served while the stream still had files to yield
    assert got[0] == hash_bytes(TGS.read_bytes(), name="t.tgs", variants=False)


def test_a_worker_over_its_rss_limit_is_replaced_between_files() -> None:
    from stickerguard.isolate.pool import RSS_CHECK_EVERY

    data = CUPPY.read_bytes()
    with DecoderPool(1, SandboxLimits(max_rss_bytes=1 << 20)) as p:  # every worker holds ~200 MB
        first = p.pids()
        sigs = [p.hash(data, name="c.webp") for _ in range(RSS_CHECK_EVERY - 1)]
        assert p.replaced == 0 and p.pids() == first  # checked every RSS_CHECK_EVERY files only
        sigs.append(p.hash(data, name="c.webp"))
        assert p.replaced == 1 and p.pids() != first
        stream = p.hash_ordered([data] * RSS_CHECK_EVERY, lambda d: (d, "c.webp"), workers=1)
        sigs += [res[0] for _, res in stream]
        assert p.replaced == 2
    assert {s.pdq for s in sigs} == {CUPPY_PDQ} and len(sigs) == 2 * RSS_CHECK_EVERY


def test_workers_that_never_start_fail_each_file_not_the_scan(tmp_path: Path) -> None:
    (tmp_path / "a.webp").write_bytes(CUPPY.read_bytes())
    (tmp_path / "b.webp").write_bytes(CUPPY.read_bytes())
    with DecoderPool(1, SandboxLimits(startup_timeout_s=0.001)) as p:
        results = list(scan([tmp_path], pool=p))
        with pytest.raises(WorkerCrashed) as err:
            p.hash(CUPPY.read_bytes(), name="c.webp")
        assert p.replaced == 3
    assert [(r.name, r.error.code, r.error.message) for r in results] == [
        (name, "decoder_crashed", "decoder worker did not start within 0.001 s") for name in ("a.webp", "b.webp")]
    assert str(err.value) == "c.webp: decoder worker did not start within 0.001 s"
