"""Build the detection benchmark's image corpus from public packages, reproducibly.

Sources (fetched once into ``~/.cache/stickerguard-bench``, or ``$STICKERGUARD_BENCH_CACHE``;
never into the repository):

* OpenMoji's colour SVGs, npm package ``openmoji`` (``npm pack openmoji@VERSION``),
  rasterised to 512x512 RGBA with ``cairosvg`` (PyPI; needs the system libcairo);
* Debian ``openclipart-png`` (PNG clip art);
* every glyph bitmap of Debian ``fonts-noto-color-emoji``: the font is a CBDT colour
  bitmap font; each glyph's embedded PNG (the bitmap FreeType/Pillow draw for
  ``ImageFont.truetype(path, 109, embedded_color=True)``) is read with ``fontTools``
  and decoded with Pillow, so ZWJ sequences, flags and skin tones are included too;
* desktop wallpapers, Debian ``gnome-backgrounds`` and ``mate-backgrounds``
  (SVG wallpapers rasterised with cairosvg);
* the sticker packs: WhatsApp sample packs (static and animated WebP) and Telegram
  ``.tgs`` from ``../shared/corpus`` when present, else ``tests/data``.

Debian packages are fetched with ``apt-get download PKG=VERSION`` (falling back to the
unpinned package if that exact version is gone) and unpacked with ``dpkg-deb -x``;
nothing is installed. Every static image is normalised once: converted to RGBA and,
if larger, shrunk to fit 512x512 (LANCZOS), then stored as PNG. Exact duplicates (same
size and RGBA bytes) are dropped, first one kept (sources in the order above). Sticker
pack files are used as they are (their original bytes).

Output: ``CACHE/corpus/manifest.json``: ``{"packages": {name: version}, "items": [
{"id", "source", "origin", "path", "animated"}]}`` with ``path`` relative to the cache.

Run: ``python -m benchmarks.distractors [--cache DIR]`` (the detect benchmark calls
:func:`build_corpus` itself).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

#: Pinned versions (Debian bookworm, npm); recorded again in the manifest as fetched.
PACKAGES = {
    "openclipart-png": "1:0.18+dfsg-19",
    "fonts-noto-color-emoji": "2.042-0+deb12u1",
    "gnome-backgrounds": "43.1-1",
    "mate-backgrounds": "1.26.0-1",
}
OPENMOJI_VERSION = "17.0.0"
#: Longest side of a normalised static image, pixels (sticker size).
MAX_SIDE = 512
REPO = Path(__file__).resolve().parent.parent


def cache_dir(override: str | Path | None = None) -> Path:
    """The cache folder: ``override``, ``$STICKERGUARD_BENCH_CACHE`` or ``~/.cache/stickerguard-bench``."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("STICKERGUARD_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stickerguard-bench"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fetch_debs(cache: Path) -> dict[str, str]:
    """Download and unpack the Debian packages into ``cache/x``; returns {package: version}.

    Raises RuntimeError naming the package and apt's message when a download fails.
    """
    debs, root = cache / "deb", cache / "x"
    debs.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}
    updated = False
    for pkg, version in PACKAGES.items():
        found = sorted(debs.glob(f"{pkg}_*.deb"))
        if not found:
            for spec in (f"{pkg}={version}", pkg):
                res = _run(["apt-get", "download", spec], debs)
                if res.returncode != 0 and not updated:
                    _run(["apt-get", "update", "-qq"], debs)
                    updated = True
                    res = _run(["apt-get", "download", spec], debs)
                if res.returncode == 0:
                    break
            found = sorted(debs.glob(f"{pkg}_*.deb"))
            if not found:
                raise RuntimeError(f"apt-get download {pkg} failed: {res.stderr.strip()[-300:]}")
        deb = found[-1]
        versions[pkg] = _run(["dpkg-deb", "-f", str(deb), "Version"], debs).stdout.strip()
        marker = root / f".{deb.name}.done"
        if not marker.exists():
            root.mkdir(parents=True, exist_ok=True)
            res = _run(["dpkg-deb", "-x", str(deb), str(root)], debs)
            if res.returncode != 0:
                raise RuntimeError(f"dpkg-deb -x {deb.name} failed: {res.stderr.strip()}")
            marker.touch()
    return versions


def fetch_openmoji(cache: Path) -> tuple[Path, str]:
    """``npm pack openmoji@OPENMOJI_VERSION`` into ``cache/npm`` and unpack; returns (color/svg dir, version)."""
    npm = cache / "npm"
    npm.mkdir(parents=True, exist_ok=True)
    tgz = npm / f"openmoji-{OPENMOJI_VERSION}.tgz"
    if not tgz.exists():
        res = _run(["npm", "pack", f"openmoji@{OPENMOJI_VERSION}"], npm)
        if res.returncode != 0 or not tgz.exists():
            raise RuntimeError(f"npm pack openmoji@{OPENMOJI_VERSION} failed: {res.stderr.strip()[-300:]}")
    out = cache / "om"
    if not (out / "package" / "color" / "svg").is_dir():
        with tarfile.open(tgz) as tar:
            tar.extractall(out, filter="data")
    return out / "package" / "color" / "svg", OPENMOJI_VERSION


def _fit(im: Image.Image) -> Image.Image:
    im = im.convert("RGBA")
    if max(im.size) > MAX_SIDE:
        k = MAX_SIDE / max(im.size)
        im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.Resampling.LANCZOS)
    return im


def _svg(path: Path, size: int | None) -> Image.Image:
    import cairosvg

    kw = {"output_width": size, "output_height": size} if size else {}
    png = cairosvg.svg2png(url=str(path), unsafe=False, **kw)
    return Image.open(io.BytesIO(png))


def _normalise(job: tuple[str, str, str, str]) -> tuple[str, str, str, str] | None:
    """Worker: (kind, src, out, id) -> (id, out, digest, error) with the image written as PNG."""
    kind, src, out, ident = job
    Image.MAX_IMAGE_PIXELS = 400_000_000  # trusted Debian/npm packages; huge wallpapers
    try:
        if kind == "svg512":
            im = _svg(Path(src), 512)
        elif kind == "svg":
            im = _svg(Path(src), None)
        elif kind == "glyph":
            im = Image.open(io.BytesIO(Path(src).read_bytes()))
        else:
            im = Image.open(src)
        im = _fit(im)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        im.save(out, "PNG")
        digest = hashlib.sha256(repr(im.size).encode() + im.tobytes()).hexdigest()
        return ident, out, digest, ""
    except Exception as exc:  # a broken source file is skipped and counted, not fatal
        return ident, out, "", f"{type(exc).__name__}: {exc}"


def _noto_glyphs(font: Path, out: Path) -> list[tuple[str, str, str, str]]:
    """Write every CBDT glyph PNG of the font to ``out`` (raw) and return worker jobs."""
    from fontTools.ttLib import TTFont

    out.mkdir(parents=True, exist_ok=True)
    jobs = []
    tt = TTFont(str(font))
    strike = tt["CBDT"].strikeData[0]
    for name in sorted(strike):
        glyph = strike[name]
        glyph.decompile()
        raw = out / f"{name}.raw.png"
        if not raw.exists():
            raw.write_bytes(glyph.imageData)
        jobs.append(("glyph", str(raw), str(out.parent / "noto" / f"{name}.png"), f"noto-emoji/{name}"))
    return jobs


def noto_sequences(font: Path) -> dict[str, str]:
    """Glyph name -> code point sequence (``1F3C3-200D-2640``) for every glyph of the font.

    Single code points come from the cmap; ZWJ sequences, flags and skin tones from the
    GSUB ligature table (their glyphs have opaque names like ``glyph02039``).
    """
    from fontTools.ttLib import TTFont

    tt = TTFont(str(font))
    names = {g: f"{cp:X}" for cp, g in tt.getBestCmap().items()}
    out = dict(names)
    for lookup in tt["GSUB"].table.LookupList.Lookup:
        for sub in lookup.SubTable:
            for first, ligs in getattr(sub, "ligatures", {}).items():
                for lig in ligs:
                    parts = [names.get(g) for g in (first, *lig.Component)]
                    if all(parts):
                        out.setdefault(lig.LigGlyph, "-".join(parts))
    return out


def _pack_items(corpus: Path) -> list[dict]:
    items = []
    for f in sorted((corpus / "whatsapp-sample-packs").glob("*/*")):
        if f.suffix.lower() == ".webp":  # the .png files are tray icons: small copies of a sticker
            with Image.open(f) as im:
                animated = getattr(im, "n_frames", 1) > 1
            items.append({"id": f"packs/whatsapp/{f.parent.name}/{f.name}", "source": "sticker-packs",
                          "origin": str(f), "path": str(f), "animated": animated})
    for f in sorted((corpus / "telegram-tgs").glob("*.tgs")):
        items.append({"id": f"packs/telegram/{f.name}", "source": "sticker-packs", "origin": str(f),
                      "path": str(f), "animated": True})
    return items


#: The 8 dihedral transforms (identity first) under which two images count as one.
_DIHEDRAL = (None, Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.FLIP_TOP_BOTTOM, Image.Transpose.ROTATE_90,
             Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270, Image.Transpose.TRANSPOSE,
             Image.Transpose.TRANSVERSE)


def pixel_key(path: str) -> str:
    """Key of an image's visible pixels, equal for exact copies up to mirror and rotation.

    The first frame in RGBA with the RGB of every fully transparent pixel set to 0 (what
    is stored there is invisible), then ``min`` over the 8 dihedral transforms of
    SHA-256(size + RGBA bytes). Two corpus items with one key are one image.
    """
    with Image.open(path) as im:
        im.seek(0)
        rgba = im.convert("RGBA")
    r, g, b, a = rgba.split()
    hidden = a.point(lambda v: 255 if v == 0 else 0, "1")
    black = Image.new("L", rgba.size, 0)
    rgba = Image.merge("RGBA", [Image.composite(black, c, hidden) for c in (r, g, b)] + [a])
    keys = []
    for t in _DIHEDRAL:
        im = rgba if t is None else rgba.transpose(t)
        keys.append(hashlib.sha256(repr(im.size).encode() + im.tobytes()).hexdigest())
    return min(keys)


def _key_job(path: str) -> tuple[str, str]:
    try:
        return path, pixel_key(path)
    except Exception as exc:  # unreadable here: keep the item (its own key)
        return path, f"error:{path}:{type(exc).__name__}"


def dedupe(items: list[dict], cache: Path | None = None, workers: int = 2,
           log=print) -> tuple[list[dict], list[tuple[str, str]]]:
    """Drop exact pixel duplicates (rule: :func:`pixel_key`), keeping the first id in sorted order.

    Animated items are never merged (their key is their id). Keys are cached in
    ``CACHE/corpus/pixel_keys.json`` by path. Returns ``(kept items in input order,
    [(dropped id, kept id), ...])``.
    """
    cache_file = cache_dir(cache) / "corpus" / "pixel_keys.json"
    known = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    todo = sorted({it["path"] for it in items if not it["animated"] and it["path"] not in known})
    if todo:
        log(f"corpus: pixel keys of {len(todo)} images")
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
            known.update(dict(pool.map(_key_job, todo, chunksize=64)))
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(known))
    first: dict[str, str] = {}
    for it in sorted(items, key=lambda it: it["id"]):
        first.setdefault(it["id"] if it["animated"] else known[it["path"]], it["id"])
    dropped = []
    kept = []
    for it in items:
        owner = first[it["id"] if it["animated"] else known[it["path"]]]
        if owner == it["id"]:
            kept.append(it)
        else:
            dropped.append((it["id"], owner))
    return kept, sorted(dropped)


def pack_corpus() -> Path:
    """``../shared/corpus`` when it exists next to the repository, else ``tests/data``."""
    shared = REPO.parent / "shared" / "corpus"
    return shared if (shared / "telegram-tgs").is_dir() else REPO / "tests" / "data"


def build_corpus(cache: Path | None = None, workers: int = 2, log=print) -> dict:
    """Fetch every source and normalise it; returns (and caches) the manifest dict.

    Items have ``id`` (source/name), ``source``, ``origin`` (original file),
    ``path`` (file to read; absolute) and ``animated``. Re-running reuses the cache.
    """
    cache = cache_dir(cache)
    manifest_path = cache / "corpus" / "manifest.json"
    if manifest_path.exists():
        return json.loads(manifest_path.read_text())
    versions = fetch_debs(cache)
    svg_dir, om_version = fetch_openmoji(cache)
    versions["openmoji (npm)"] = om_version
    import cairosvg

    versions["cairosvg (PyPI)"] = cairosvg.__version__
    root, norm = cache / "x" / "usr" / "share", cache / "corpus"
    jobs: list[tuple[str, str, str, str]] = []
    for f in sorted(svg_dir.glob("*.svg")):
        jobs.append(("svg512", str(f), str(norm / "openmoji" / f"{f.stem}.png"), f"openmoji/{f.stem}"))
    for f in sorted((root / "openclipart" / "png").rglob("*.png")):
        rel = f.relative_to(root / "openclipart" / "png")
        jobs.append(("png", str(f), str(norm / "openclipart" / rel), f"openclipart/{rel}"))
    jobs += _noto_glyphs(root / "fonts" / "truetype" / "noto" / "NotoColorEmoji.ttf", norm / "noto-raw")
    for f in sorted((root / "backgrounds").rglob("*")):
        if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".svg"):
            rel = f.relative_to(root / "backgrounds")
            kind = "svg" if f.suffix.lower() == ".svg" else "img"
            jobs.append((kind, str(f), str(norm / "wallpapers" / rel.with_suffix(".png")), f"wallpapers/{rel}"))
    log(f"corpus: normalising {len(jobs)} images with {workers} processes")
    seen: set[str] = set()
    items, failed, dupes = [], [], 0
    # forkserver, not fork: a forked child of a parent that already rendered Lottie
    # (rlottie's thread pool) or ran faiss (OpenMP) can hang forever in those libraries.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        for (kind, src, _out, _id), res in zip(jobs, pool.map(_normalise, jobs, chunksize=32)):
            ident, out, digest, error = res
            if error:
                failed.append(f"{ident}: {error}")
                continue
            if digest in seen:
                dupes += 1
                continue
            seen.add(digest)
            items.append({"id": ident, "source": ident.split("/")[0], "origin": src, "path": out,
                          "animated": False})
    items += _pack_items(pack_corpus())
    manifest = {"packages": versions, "pack_corpus": str(pack_corpus()), "duplicates_dropped": dupes,
                "failed": failed, "items": items}
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1))
    log(f"corpus: {len(items)} items, {dupes} exact duplicates dropped, {len(failed)} unreadable")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """CLI: build (or show) the cached corpus manifest."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.distractors")
    ap.add_argument("--cache", default=None, help="cache folder (default ~/.cache/stickerguard-bench)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    m = build_corpus(args.cache, args.workers)
    counts: dict[str, int] = {}
    for it in m["items"]:
        counts[it["source"]] = counts.get(it["source"], 0) + 1
    print(json.dumps({"packages": m["packages"], "items": counts}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
