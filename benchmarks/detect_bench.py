"""Detection benchmark: recall and false matches of HMA's PDQ vs stickerguard, same pairs.

``python -m benchmarks detect [--quick] [--corpus packages|tests] [--known N] ...``

1. Corpus (``benchmarks.distractors``): >= 10,000 benign images from public packages
   (OpenMoji, openclipart, Noto Color Emoji, GNOME/MATE wallpapers, sticker packs),
   fetched and normalised once into ``~/.cache/stickerguard-bench``.
   ``--corpus tests`` uses only ``tests/data`` (for the test suite, no network).
2. Exact duplicates (same visible pixels up to mirror/rotation,
   :func:`benchmarks.distractors.pixel_key`) are dropped first, one copy kept.
   Known set: a seeded random subset (default 1,000 items, of which at most
   ``known // 30`` animations) stands in for a hash list; every other item is a
   distractor.
3. Queries: every known static item under every transform of
   ``stickerguard.transforms.TRANSFORMS`` (seed = run seed * 1,000,003 + item number),
   every known animation as it is and under every ``ANIMATION_TRANSFORMS`` entry,
   and every distractor as it is.
4. Three systems on the same pairs (``benchmarks.detect_metrics``): HMA's PDQ
   (python-threatexchange), stickerguard plain PDQ, stickerguard canonical sticker PDQ.
5. Writes ``OUT/detect.json``, ``OUT/detect.md`` and two plots (``detect_hist.png``,
   ``detect_recall.png``); OUT defaults to ``docs/bench`` (``--quick``: the same names
   under ``OUT/quick/``... unless ``--out`` is given).

Exit code 0; the goal status is in the report, not the exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from stickerguard.transforms import ANIMATION_TRANSFORMS, TRANSFORMS

from . import detect_metrics as dm
from . import detect_report
from .detect_hashing import Hashed, Job, run_chunk
from .distractors import REPO, build_corpus, cache_dir, dedupe, noto_sequences

SYSTEMS = ("hma", "sg_plain", "sg_canonical")
ANIM_QUERIES = ("identity", *ANIMATION_TRANSFORMS)


def tests_corpus() -> dict:
    """A tiny corpus from tests/data only: sticker packs plus the PDQ reference photos."""
    data = REPO / "tests" / "data"
    items = []
    for f in sorted((data / "whatsapp-sample-packs").glob("*/*")):
        if f.suffix == ".webp":  # the .png files are tray icons: small copies of a sticker
            from PIL import Image

            with Image.open(f) as im:
                anim = getattr(im, "n_frames", 1) > 1
            items.append({"id": f"packs/{f.parent.name}/{f.name}", "source": "sticker-packs", "path": str(f),
                          "animated": anim})
    for f in sorted((data / "telegram-tgs").glob("*.tgs")):
        items.append({"id": f"packs/telegram/{f.name}", "source": "sticker-packs", "path": str(f), "animated": True})
    for f in sorted((data / "pdq-reference").rglob("*.jp*g")):
        items.append({"id": f"pdq-reference/{f.name}", "source": "pdq-reference", "path": str(f), "animated": False})
    return {"packages": {}, "items": items}


# code points that make a variant of one emoji drawing: skin tones, variation selector,
# zero-width joiner, female/male sign, "facing right" (a mirrored drawing)
_MODIFIERS = {"1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF", "FE0F", "200D", "2640", "2642", "27A1"}
# man / woman / person base of the same role (cook, farmer, ...): one drawing
_PERSON = {"1F468": "1F9D1", "1F469": "1F9D1"}


def artwork(item_id: str) -> str:
    """Artwork group of a corpus item, from its name alone (never from a hash).

    Variants of one artwork are not independent images: emoji skin tones, gender and
    direction variants (Fitzpatrick modifiers U+1F3FB..U+1F3FF, U+FE0F, ZWJ, female/male
    signs, U+27A1 "facing right" dropped, man/woman bases U+1F468/U+1F469 read as person
    U+1F9D1, in OpenMoji names and Noto code point sequences from :func:`noto_sequences`),
    numbered variants of one openclipart drawing (``name_01``, ``name_02``), the 1,375
    renders of openclipart's star-polygon generator (``shapes/stars/star_<n>pt<m>step``:
    a ring of n points joined every m-th; most look alike, see docs/bench/detect.md), light/dark
    and size variants of a wallpaper (``-l``/``-d``, ``_3840x2160``), a sticker and its
    renumbered copy in a pack (``12_Cuppy_angry``/``16_Cuppy_angry``), the PDQ reference's
    edited bridges (``bridge-mods``, ``dih``). Items of the known set's groups are not
    used as distractors, and no two known items share a group.
    """
    source, _, name = item_id.partition("/")
    stem = re.sub(r"\.[a-z]+$", "", name)
    if source in ("openmoji", "noto-emoji"):
        parts = [_PERSON.get(p, p) for p in re.split(r"[-_.]", stem.upper().removeprefix("U")) if p not in _MODIFIERS]
        return f"{source}/{'-'.join(parts)}"
    if source == "openclipart":
        stem = re.sub(r"^(shapes/stars/star_)[0-9]+pt[0-9]+step$", r"\1#pt#step", stem)
        return f"{source}/{re.sub(r'_+[0-9]+$', '', stem)}"
    if source == "wallpapers":
        return f"{source}/{re.sub(r'([-_](l|d|[0-9]+x[0-9]+))+$', '', stem)}"
    if source == "packs":
        return f"{source}/{re.sub(r'/[0-9]+_', '/', stem)}"
    if source == "pdq-reference" and ("bridge" in stem or stem.startswith("dih")):
        return "pdq-reference/bridge"
    return item_id


def select(items: list[dict], n_known: int, n_distract: int | None, seed: int,
           bankable=lambda it: True) -> tuple[list[dict], list[dict]]:
    """(known, distractors): seeded choice of one item per artwork group (:func:`artwork`).

    ``n_known // 30`` (at least 1) known items are animations, the rest static. Known
    items must pass ``bankable`` (main: not one flat colour, :func:`flat`); a candidate
    that fails is passed over and stays a distractor, so the rest of the choice is the
    same. Distractors: every item outside the known groups (or a seeded sample of
    ``n_distract`` of them).
    """
    rng = random.Random(seed)
    order = rng.sample(items, len(items))
    known, groups = [], set()
    n_anim = min(sum(it["animated"] for it in items), max(1, n_known // 30))
    for want_anim, quota in ((True, n_anim), (False, n_known - n_anim)):
        for it in order:
            g = artwork(it["id"])
            if quota == 0:
                break
            if it["animated"] != want_anim or g in groups or not bankable(it):
                continue
            known.append(it)
            groups.add(g)
            quota -= 1
    rest = [it for it in items if artwork(it["id"]) not in groups]
    if n_distract is not None and n_distract < len(rest):
        rest = rng.sample(rest, n_distract)
    return known, rest


#: :func:`flat`: largest range of any channel (0..255) over the visible pixels of a "flat" image.
FLAT_RANGE = 8


def flat(path: str) -> bool:
    """True if the image's first frame is (nearly) one colour where it is visible: every
    RGBA channel spans at most ``FLAT_RANGE`` levels over the pixels with alpha > 0.

    Such an image has no perceptual hash (PDQ quality 0; HMA and ThreatExchange drop
    hashes under 50), so no PDQ hash list can hold it: it is not drawn as a known item.
    The GNOME wallpaper ``vnc-d`` (one dark colour, dithered over 5 levels) was, and
    missed under every transform in every system.
    """
    from PIL import Image

    with Image.open(path) as im:
        im.seek(0)
        rgba = im.convert("RGBA")
    a = np.asarray(rgba)
    visible = a[a[..., 3] > 0]
    return len(visible) == 0 or bool((visible.max(axis=0).astype(int) - visible.min(axis=0) <= FLAT_RANGE).all())


def make_jobs(known: list[dict], distractors: list[dict], seed: int) -> tuple[list[Job], list[tuple]]:
    """All jobs, and per job its meta ``(role, item number, transform)``; role bank/query/distractor."""
    jobs, meta = [], []

    def add(path, transform, s, animated, role, k):
        jobs.append(Job(len(jobs), path, transform, s, animated))
        meta.append((role, k, transform))

    for k, it in enumerate(known):
        s = seed * 1_000_003 + k
        add(it["path"], "bank", s, it["animated"], "bank", k)
        for t in (ANIM_QUERIES if it["animated"] else TRANSFORMS):
            add(it["path"], t, s, it["animated"], "query", k)
    for k, it in enumerate(distractors):
        add(it["path"], "identity", 0, it["animated"], "distractor", k)
    return jobs, meta


def hash_all(jobs: list[Job], workers: int, log) -> list[Hashed]:
    """Run every job in ``workers`` processes (chunks of 16); results in job order."""
    out: list[Hashed | None] = [None] * len(jobs)
    # animations first: they are the slowest jobs, so the pool does not end on them
    order = sorted(jobs, key=lambda j: (not j.animated, j.key))
    chunks = [order[i:i + 16] for i in range(0, len(order), 16)]
    t0, done = time.time(), 0
    # forkserver, not fork: a forked child of a parent that already rendered Lottie
    # (rlottie's thread pool) or ran faiss (OpenMP) can hang forever in those libraries.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        for res in pool.map(run_chunk, chunks):
            for h in res:
                out[h.key] = h
            done += len(res)
            if done % 2000 < 16 or done == len(jobs):
                log(f"hashed {done}/{len(jobs)} files in {time.time() - t0:.0f} s")
    return out  # type: ignore[return-value]


def score(known: list[dict], results: list[Hashed], meta: list[tuple], distractors: list[dict] | None = None) -> dict:
    """Distances and decisions of the three systems for every query (see detect_metrics)."""
    import faiss
    from threatexchange.signal_type.pdq.signal import PdqSignal

    # one thread: tiny range searches under OpenMP stall for ms on a busy 2-core box
    faiss.omp_set_num_threads(1)
    bank_sig = {k: results[i] for i, (role, k, _t) in enumerate(meta) if role == "bank"}
    n = len(known)
    sg_items = [(k, h.sg) for k, h in sorted(bank_sig.items()) if h.sg is not None]
    banks = {"sg_plain": dm.Bank(dm.bank_rows(sg_items, canonical=False), n),
             "sg_canonical": dm.Bank(dm.bank_rows(sg_items, canonical=True), n)}
    matchers = {name: dm.Matcher.from_rows(dm.bank_rows(sg_items, canonical=name == "sg_canonical"))
                for name in banks}
    hma_hex = [bank_sig[k].hma for k in range(n)]
    hma_valid = np.array([bool(h) for h in hma_hex])
    hma_words = dm._words([h or "0" * 64 for h in hma_hex])
    hma_index = PdqSignal.get_index_cls()([(h, k) for k, h in enumerate(hma_hex) if h])
    groups: dict[str, dict] = {}
    disagree = {s: 0 for s in SYSTEMS}
    false_pairs: dict[str, list] = {s: [] for s in SYSTEMS}  # (distractor id, known id, bits) at 31
    for i, (role, k, t) in enumerate(meta):
        if role == "bank":
            continue
        h = results[i]
        group = t if role == "query" else "distractor"
        g = groups.setdefault(group, {s: {"own": [], "false_hist": np.zeros(dm.NEVER + 1, np.int64),
                                          "nearest_false": [], "hits31": 0, "false31": 0, "queries_false31": 0}
                                      for s in SYSTEMS} | {"n": 0, "errors": 0})
        g["n"] += 1
        g["errors"] += bool(h.error)
        plain_sig = dm.plain_only(h.sg) if h.sg is not None else None
        dists = {"hma": dm.hma_distances(h.hma, hma_words, hma_valid),
                 "sg_plain": banks["sg_plain"].distances(h.sg, canonical=False),
                 "sg_canonical": banks["sg_canonical"].distances(h.sg, canonical=True)}
        hits = {"hma": dm.hma_hits(hma_index, h.hma),
                "sg_plain": dm.matcher_hits(matchers["sg_plain"], plain_sig),
                "sg_canonical": dm.matcher_hits(matchers["sg_canonical"], h.sg)}
        for s in SYSTEMS:
            d, st = dists[s], g[s]
            own = k if role == "query" else -1
            if set(np.flatnonzero(d <= dm.THRESHOLD).tolist()) != hits[s]:
                disagree[s] += 1
            others = np.delete(d, own) if own >= 0 else d
            st["false_hist"] += np.bincount(np.minimum(others, dm.NEVER), minlength=dm.NEVER + 1)
            st["nearest_false"].append(int(others.min()) if len(others) else dm.NEVER)
            wrong = hits[s] - {own}
            if role == "distractor" and distractors is not None:
                false_pairs[s] += [(distractors[k]["id"], known[c]["id"], int(d[c])) for c in sorted(wrong)]
            st["false31"] += len(wrong)
            st["queries_false31"] += bool(wrong)
            if own >= 0:
                st["own"].append(int(d[own]))
                st["hits31"] += own in hits[s]
    return {"groups": groups, "disagreements": disagree, "false_pairs": false_pairs,
            "bank_hashes": {s: int(len(b.words)) for s, b in banks.items()} | {"hma": int(hma_valid.sum())}}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring); returns 0."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks detect")
    ap.add_argument("--quick", action="store_true", help="a few hundred images (< ~60 s)")
    ap.add_argument("--corpus", choices=("packages", "tests"), default="packages")
    ap.add_argument("--known", type=int, default=None, help="known items (default 1000; quick 20)")
    ap.add_argument("--distractors", type=int, default=None, help="cap on distractors (default all; quick 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--out", default=None, help="output folder (default docs/bench, quick: docs/bench/quick)")
    ap.add_argument("--dump", default=None, help="also pickle every hash with its role and item (for analysis)")
    args = ap.parse_args(argv)
    n_known = args.known or (20 if args.quick else 1000)
    n_dis = args.distractors if args.distractors is not None else (200 if args.quick else None)
    out = Path(args.out) if args.out else REPO / "docs" / "bench" / ("quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    log = lambda msg: print(f"[detect] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.time()
    corpus = tests_corpus() if args.corpus == "tests" else build_corpus(args.cache, args.workers, log)
    items = [it for it in corpus["items"]  # pack tray icons are small copies of a sticker
             if not (it["source"] == "sticker-packs" and it["path"].endswith(".png"))]
    font = cache_dir(args.cache) / "x" / "usr" / "share" / "fonts" / "truetype" / "noto" / "NotoColorEmoji.ttf"
    if args.corpus == "packages" and font.exists():  # name Noto ligature glyphs by their code points
        seqs = noto_sequences(font)
        for it in items:
            glyph = it["id"].partition("/")[2]
            if it["source"] == "noto-emoji" and glyph in seqs:
                it["id"] = f"noto-emoji/u{seqs[glyph]}"
    dropped: list[tuple[str, str]] = []
    if args.corpus == "packages":  # exact pixel copies (up to mirror/rotation) are one image
        items, dropped = dedupe(items, args.cache, args.workers, log)
        log(f"dropped {len(dropped)} exact pixel duplicates (benchmarks.distractors.pixel_key)")
    known, distractors = select(items, n_known, n_dis, args.seed,
                                bankable=lambda it: it["animated"] or not flat(it["path"]))
    jobs, meta = make_jobs(known, distractors, args.seed)
    log(f"{len(known)} known ({sum(i['animated'] for i in known)} animated), {len(distractors)} distractors, "
        f"{len(jobs)} files to make and hash")
    results = hash_all(jobs, args.workers, log)
    t_hash = time.time() - t0
    if args.dump:
        import pickle

        with open(args.dump, "wb") as fh:
            pickle.dump({"known": known, "distractors": distractors, "meta": meta, "results": results}, fh)
    scored = score(known, results, meta, distractors)
    errors = [f"{jobs[i].path} [{jobs[i].transform}]: {r.error}" for i, r in enumerate(results) if r.error]
    run = {"argv": ["python", "-m", "benchmarks", "detect", *(argv if argv is not None else sys.argv[1:])],
           "seed": args.seed, "workers": args.workers, "known": len(known), "distractors": len(distractors),
           "known_animated": sum(i["animated"] for i in known), "files_hashed": len(jobs),
           "packages": corpus.get("packages", {}), "sources": _count(distractors), "known_sources": _count(known),
           "seconds_hashing": round(t_hash, 1), "seconds_total": round(time.time() - t0, 1),
           "errors": errors[:50], "error_count": len(errors), "duplicates_removed": len(dropped),
           "duplicate_examples": dropped[:20]}
    report = detect_report.write(out, run, scored, quick=args.quick)
    log(f"done in {run['seconds_total']} s; wrote {report}")
    return 0


def _count(items: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        out[it["source"]] = out.get(it["source"], 0) + 1
    return dict(sorted(out.items()))


if __name__ == "__main__":
    sys.exit(main())
