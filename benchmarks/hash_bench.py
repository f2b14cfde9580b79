"""Hashing benchmark: stickerguard vs python-threatexchange's PdqSignal, same files, same run.

``python -m benchmarks hash [--quick] [--rounds N] [--out DIR]``

1. Files: the 25 static 512x512 WebP stickers of ``tests/data/whatsapp-sample-packs/1``
   (Cuppy), hashed ``rounds`` times each (default 40 -> 1,000 hashes per system);
   separate rows for the 21 animated WebPs of pack 2 and the 6 Telegram ``.tgs``.
2. Single core: the process pins itself to one CPU (``sched_setaffinity``, undone at the
   end) and sets ``OMP/OPENBLAS/MKL/NUMBA_NUM_THREADS=1`` (restored at the end).
3. Systems, measured round-robin (each round hashes every file once per system, so
   background load on this shared machine hits all of them alike):

   * ``te_pdq``: ``threatexchange.signal_type.pdq.signal.PdqSignal.hash_from_file``
     (HMA's hasher: Pillow decode, ``pdqhash.compute``; plain PDQ only, no MD5/SHA-256,
     no canonical form, first frame only);
   * ``sg_query``: ``stickerguard.signals.hash_file(path, variants=False)``, what a scan
     does: decode, plain PDQ + 8 dihedral, canonical form + its PDQ + 8 dihedral,
     MD5, SHA-256, and the occluded canonical forms with their PDQs;
   * ``sg_query_whole``: ``hash_file(path, variants=False, occluded=False)``: the same
     without the occluded forms (the work the issue's speed goal lists);
   * ``sg_bank``: ``hash_file(path)`` (bank side: also the 2 flattened and up to 3 cropped
     canonical variants, and all 6 occluded forms);
   * ``sg_query_pdqhash``: ``sg_query`` with the PDQ arithmetic in ``pdqhash`` (the
     speed before ``signals.fastpdq``; same hashes).
4. Per-stage times (best round, ms per sticker) of the query path.
5. Allocator sensitivity: ``te_pdq`` and ``sg_query`` again, round-robin on the static
   files, in a child process whose glibc keeps freed memory (``MALLOC_MMAP_THRESHOLD_``
   and ``MALLOC_TRIM_THRESHOLD_`` raised): TE's numpy arrays and Pillow images are then no
   longer page-faulted in per file. Every system's minor page faults per file are recorded.
6. Folder scan scaling: ``match.scan.scan`` over the Cuppy folder repeated, in-process
   (1 core) and with the sandboxed decoder pool at 1 and 2 workers (all cores allowed).
7. Writes ``OUT/hash.json``, ``OUT/hash.md`` and ``OUT/hash.png``; OUT defaults to
   ``docs/bench`` (``--quick``: ``docs/bench/quick`` unless ``--out`` is given).

Exit code 0 when every system ran; the goal status is in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.hash_report import machine_info, write_outputs

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
GOAL_PER_SECOND = 300.0
GOAL_RATIO = 3.0
#: glibc settings of the allocator-sensitivity child: keep freed memory instead of
#: returning it to the kernel (mmap above 32 MB only; trim only above 64 MB free).
MALLOC_TUNED_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


def file_sets() -> dict[str, list[Path]]:
    """The benchmark's files by row name (static Cuppy, animated pack 2, Telegram .tgs)."""
    packs = DATA / "whatsapp-sample-packs"
    return {
        "static_webp": sorted((packs / "1").glob("*.webp")),
        "animated_webp": sorted((packs / "2").glob("*.webp")),
        "tgs": sorted((DATA / "telegram-tgs").glob("*.tgs")),
    }


def systems() -> dict:
    """name -> callable(path) for the compared hashers (see the module docstring)."""
    from threatexchange.signal_type.pdq.signal import PdqSignal

    from stickerguard.signals import hash_file
    from stickerguard.signals import pdq as sg_pdq

    def sg_query_pdqhash(path):
        fast, sg_pdq._fast = sg_pdq._backend(), None
        try:
            return hash_file(path, variants=False)
        finally:
            sg_pdq._fast = fast

    return {
        "te_pdq": PdqSignal.hash_from_file,
        "sg_query": lambda p: hash_file(p, variants=False),
        "sg_query_whole": lambda p: hash_file(p, variants=False, occluded=False),
        "sg_bank": hash_file,
        "sg_query_pdqhash": sg_query_pdqhash,
    }


def pin_one_core() -> int:
    """Restrict this process (and children started later) to its lowest allowed CPU."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def round_robin(fns: dict, paths: list[Path], rounds: int) -> dict[str, dict]:
    """Time ``rounds`` passes over ``paths`` per system, interleaved; errors are counted.

    Each pass is timed in CPU time of this process (``time.process_time``: the time it
    ran on its core, not the time it waited for other jobs on this shared machine) and
    in wall-clock time. Returns name -> {files_per_s (CPU, median round),
    best_files_per_s (CPU, best round), wall_files_per_s (median round), ms_per_file
    (CPU, median), hashes, errors, error (first message)}.
    """
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    faults: dict[str, int] = {name: 0 for name in fns}
    errors: dict[str, int] = {name: 0 for name in fns}
    first_error: dict[str, str] = {}
    for name, fn in fns.items():  # warm up: imports, numba cache, first-file setup
        for p in paths[:2]:
            try:
                fn(p)
            except Exception:  # noqa: BLE001 - an anchor that cannot read a format is a result
                pass
    for _ in range(rounds):
        for name, fn in fns.items():
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            c0, t0 = time.process_time(), time.perf_counter()
            for p in paths:
                try:
                    fn(p)
                except Exception as exc:  # noqa: BLE001
                    errors[name] += 1
                    first_error.setdefault(name, f"{type(exc).__name__}: {exc}"[:120])
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - t0)
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    out = {}
    for name in fns:
        med = statistics.median(cpu[name])
        out[name] = {
            "files_per_s": len(paths) / med,
            "best_files_per_s": len(paths) / min(cpu[name]),
            "wall_files_per_s": len(paths) / statistics.median(wall[name]),
            "ms_per_file": 1000 * med / len(paths),
            "hashes": len(paths) * rounds,
            "errors": errors[name],
            "error": first_error.get(name),
            "page_faults_per_file": faults[name] / (len(paths) * rounds),
        }
    return out


def _tuned_child(rounds: int) -> dict:
    """Body of the allocator-sensitivity child: TE vs query path on the static files."""
    pin_one_core()
    fns = systems()
    return round_robin({k: fns[k] for k in ("te_pdq", "sg_query")}, file_sets()["static_webp"], rounds)


def malloc_tuned(rounds: int) -> dict:
    """:func:`round_robin` of TE and the query path in a child with :data:`MALLOC_TUNED_ENV`.

    Returns the child's rows, or {"error": text} if it failed (the main figures stand).
    """
    code = ("import json, sys; from benchmarks.hash_bench import _tuned_child; "
            "print(json.dumps(_tuned_child(int(sys.argv[1]))))")
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(rounds)], cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, **MALLOC_TUNED_ENV}, timeout=1800, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}


def _best_ms(fn, items: list, rounds: int) -> float:
    """Best (least disturbed) round of ``fn`` over ``items``, in CPU ms per item."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for it in items:
            fn(it)
        best = min(best, time.process_time() - t0)
    return 1000 * best / len(items)


def stage_times(paths: list[Path], rounds: int) -> list[tuple[str, float, str]]:
    """Per-stage CPU ms per sticker of the query path (and the bank-only extra), best round.

    Returns (stage, ms, note) rows, in pipeline order.
    """
    import hashlib
    import io

    import numpy as np
    import pdqhash
    from PIL import Image

    from stickerguard.media import DEFAULT_LIMITS, decode
    from stickerguard.signals import canonical, hasher, occlusion, pdq

    datas = [p.read_bytes() for p in paths]
    frames = [decode(d, name="x", limits=DEFAULT_LIMITS).frames[0].image for d in datas]
    canons = [canonical.canonicalize(f) for f in frames]
    rgb = [pdq.reference_rgb(f) for f in frames]

    def pdqhash_dihedral(a):
        vectors, _q = pdqhash.compute_dihedral(a)
        return [pdq.bits_to_hex(v) for v in vectors]

    def np_luma(a):  # the binding's own first step
        return (a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114).astype("float32")

    squares = [(f, canonical.canonical_square(f, span=occlusion.GRID_SPAN)[1]) for f in frames]

    def occluded(frame_square):
        f, sq = frame_square
        if sq is None:
            return []
        forms = occlusion.erase_regions(sq, f.width, f.height, min_share=occlusion.QUERY_MIN_SHARE)
        return [pdq.hash_rgb(np.asarray(o.image)) for o in forms]

    def variants_extra(f):
        _c, variant_images, _sq = canonical.canonical_forms(f)
        return [pdq.hash_rgb(np.asarray(v)) for v in variant_images]

    r = rounds
    rows = [
        ("read file", _best_ms(lambda p: p.read_bytes(), paths, r), "Path.read_bytes"),
        ("decode (media.decode)", _best_ms(lambda d: decode(d, name="x", limits=DEFAULT_LIMITS,
                                                                spread=hasher.SPREAD), datas, r),
         "sniff, limits, libwebp, one copy into an array-backed RGBA frame"),
        ("  of which libwebp (Image.open+load)", _best_ms(lambda d: Image.open(io.BytesIO(d)).load(), datas, r),
         "Pillow's WebP decoder alone"),
        ("plain PDQ + 8 dihedral (fastpdq)", _best_ms(pdq.hash_image_dihedral, frames, r),
         f"backend {pdq.BACKEND}, reads the frame's array in place"),
        ("canonicalize (signals.canonical)", _best_ms(canonical.canonicalize, frames, r),
         "signals.canonical (another module's owner)"),
        ("canonical PDQ + 8 dihedral (64x64)", _best_ms(lambda c: pdq.hash_rgb_dihedral(np.asarray(c)), canons, r), ""),
        ("occluded forms + PDQs (query side)", _best_ms(occluded, squares, r),
         "signals.occlusion.erase_regions on the shared moment square, then up to 6 PDQs"),
        ("MD5 + SHA-256", _best_ms(lambda d: (hashlib.md5(d).hexdigest(), hashlib.sha256(d).hexdigest()), datas, r), ""),
        ("bank only: flattened + cropped variants", _best_ms(variants_extra, frames, r),
         "canonical_forms (incl. a 2nd canonical form): 2 flattened, up to 3 cropped forms, their PDQs"),
        ("(before) plain PDQ + 8 dihedral, pdqhash", _best_ms(pdqhash_dihedral, rgb, r),
         "pdqhash.compute_dihedral on RGB + hex"),
        ("(before)   of which the binding's numpy luma", _best_ms(np_luma, rgb, r), "float64 numpy"),
        ("(before)   convert('RGB') copy", _best_ms(lambda f: f.convert("RGB"), frames, r), ""),
    ]
    return rows


def scan_scaling(paths_dir: Path, repeat: int) -> list[dict]:
    """Wall-clock files/s of ``match.scan.scan`` over ``paths_dir`` repeated ``repeat`` times.

    Rows: in-process (one file at a time), sandboxed pool with 1 and 2 workers (pool
    started and warmed before timing). Must run before :func:`pin_one_core`.
    """
    from stickerguard.match.scan import scan

    paths = [paths_dir] * repeat
    rows = []

    def timed(label: str, workers: int, **kw) -> None:
        t0 = time.perf_counter()
        results = list(scan(paths, workers=workers, **kw))
        dt = time.perf_counter() - t0
        errors = sum(1 for res in results if res.error is not None)
        rows.append({"mode": label, "workers": workers, "files": len(results), "errors": errors,
                     "seconds": dt, "files_per_s": len(results) / dt})

    list(scan([paths_dir], isolate=False))  # warm up this process (imports, numba cache)
    timed("in-process (isolate=False)", 1, isolate=False)
    try:
        from stickerguard.isolate import DecoderPool
    except ImportError as exc:  # the sandboxed pool is optional here
        rows.append({"mode": f"sandboxed pool unavailable: {exc}", "workers": 0, "files": 0, "errors": 0,
                     "seconds": 0.0, "files_per_s": 0.0})
        return rows
    for workers in (1, 2):
        with DecoderPool(workers) as pool:
            list(scan([paths_dir], workers=workers, pool=pool))  # warm every worker
            timed("sandboxed pool", workers, pool=pool)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring); returns 0, or 1 if a system failed."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks hash", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 rounds, small scan (< 60 s)")
    ap.add_argument("--rounds", type=int, default=None, help="passes over the 25 static files (default 40)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default docs/bench)")
    args = ap.parse_args(argv)
    saved_env = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})  # effective when numpy is not loaded yet (CLI)
    try:
        return _run(args)
    finally:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _run(args: argparse.Namespace) -> int:
    rounds = args.rounds or (4 if args.quick else 40)
    out = args.out or (ROOT / "docs" / "bench" / ("quick" if args.quick else ""))
    command = "python -m benchmarks hash" + (" --quick" if args.quick else "") + (
        f" --rounds {args.rounds}" if args.rounds else "")
    sets = file_sets()
    t_start = time.perf_counter()

    scaling = scan_scaling(sets["static_webp"][0].parent, 2 if args.quick else 8)
    allowed = os.sched_getaffinity(0)
    cpu = pin_one_core()
    try:
        fns = systems()
        static = round_robin(fns, sets["static_webp"], rounds)
        other_rounds = 1 if args.quick else 5
        animated = round_robin(fns, sets["animated_webp"], other_rounds)
        tgs = round_robin(fns, sets["tgs"], other_rounds)
        stages = stage_times(sets["static_webp"], 2 if args.quick else 10)
        tuned = malloc_tuned(max(1, rounds // 2))
    finally:
        os.sched_setaffinity(0, allowed)

    from stickerguard.signals import pdq as sg_pdq

    result = {
        "machine": machine_info(),
        "command": command,
        "pinned_cpu": cpu,
        "rounds": rounds,
        "pdq_backend": sg_pdq.BACKEND,
        "goal_files_per_s": GOAL_PER_SECOND,
        "goal_ratio_vs_te": GOAL_RATIO,
        "rows": {"static_webp": static, "animated_webp": animated, "tgs": tgs},
        "malloc_tuned": {"env": MALLOC_TUNED_ENV, "static_webp": tuned},
        "files": {k: len(v) for k, v in sets.items()},
        "stages_ms": [{"stage": s, "ms": ms, "note": note} for s, ms, note in stages],
        "scan_scaling": scaling,
        "seconds": time.perf_counter() - t_start,
    }
    write_outputs(result, out)
    print(json.dumps({k: {s: round(v["files_per_s"], 1) for s, v in rows.items()}
                      for k, rows in result["rows"].items()}, indent=1))
    print(f"wrote {out / 'hash.md'}, hash.json, hash.png in {result['seconds']:.0f} s")
    failed = [name for name, row in static.items() if row["errors"]]
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
