"""The newcomer demo: a bank from half the bundled Cuppy pack, scanned after transforms.

``run_demo`` (a) (re)creates bank ``demo`` from stickers 01-12 of the bundled WhatsApp
Cuppy pack, (b) writes transformed copies of those stickers (re-encoded WebP q50,
resized to 256 px, mirrored, flattened onto a colour, shrunk to 70 % inside a
transparent canvas) plus untouched and re-encoded copies of stickers 13-25 and three
animated stickers of pack "2", and (c) scans them all. Known stickers are expected to
match, the others not.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from PIL import Image

KNOWN_TRANSFORMS = ("identity", "webp_q50", "resize_256", "mirror", "flatten_random", "shrink_70")
UNKNOWN_TRANSFORMS = ("identity", "webp_q50")
DEMO_BANK = "demo"


def sample_dir() -> Path:
    """Folder of the bundled sample packs (WhatsApp sticker-app layout with contents.json)."""
    return Path(str(resources.files("stickerguard") / "data" / "sample"))


@dataclass
class DemoRow:
    """One scanned copy: which sticker, which transform, what was expected and found."""

    sticker: str
    transform: str
    expected: bool
    matched: bool
    bank: str | None = None
    signal: str | None = None
    distance: int | None = None

    @property
    def ok(self) -> bool:
        """True when the outcome is the expected one."""
        return self.expected == self.matched


@dataclass
class DemoReport:
    """All rows plus where the bank lives."""

    db_url: str
    rows: list[DemoRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def all_ok(self) -> bool:
        """True when every known copy matched, no unknown one did, and nothing failed."""
        return bool(self.rows) and all(r.ok for r in self.rows) and not self.errors

    def headline(self) -> str:
        """One-paragraph summary for people."""
        known = [r for r in self.rows if r.expected]
        unknown = [r for r in self.rows if not r.expected]
        return (
            f"known stickers matched: {sum(r.matched for r in known)}/{len(known)} "
            f"(transforms: {', '.join(KNOWN_TRANSFORMS)}); "
            f"unknown stickers matched: {sum(r.matched for r in unknown)}/{len(unknown)}; "
            f"errors: {len(self.errors)}. Bank {DEMO_BANK!r} is in {self.db_url}: try "
            f"`stickerguard bank show {DEMO_BANK}` or `stickerguard scan <folder>`."
        )

    def to_dict(self) -> dict:
        """JSON-ready report."""
        return {
            "db": self.db_url,
            "all_ok": self.all_ok,
            "rows": [dict(r.__dict__, ok=r.ok) for r in self.rows],
            "errors": self.errors,
        }


def run_demo(db, *, workdir: Path | None = None, progress: bool = False) -> DemoReport:
    """Run the demo against ``db`` (a :class:`stickerguard.store.Database`).

    Replaces bank ``demo`` if it exists. Transformed copies go to ``workdir`` (kept) or a
    temporary folder (removed). Returns a :class:`DemoReport`; raises StickerguardError
    only if the bundled data or the database is unusable.
    """
    from .banks import create_bank, delete_bank, list_banks
    from .jobs import import_media
    from .match import Matcher
    from .match.scan import scan
    from .transforms import apply_bytes

    pack1 = sample_dir() / "1"
    stickers = sorted(pack1.glob("[0-9][0-9]_*.webp"))
    known, unknown = stickers[:12], stickers[12:]
    animated = sorted((sample_dir() / "2").glob("*.webp"))

    if any(b.name == DEMO_BANK for b in list_banks(db)):
        delete_bank(db, DEMO_BANK)
    create_bank(db, DEMO_BANK, labels=("demo",), threshold=31)
    imported = import_media(db, DEMO_BANK, known)

    tmp = Path(tempfile.mkdtemp(prefix="stickerguard-demo-")) if workdir is None else Path(workdir)
    tmp.mkdir(parents=True, exist_ok=True)
    expected: dict[str, tuple[str, str, bool]] = {}
    try:
        for group, names, is_known in (
            (KNOWN_TRANSFORMS, known, True),
            (UNKNOWN_TRANSFORMS, unknown, False),
        ):
            for path in names:
                for seed, t in enumerate(group):
                    # Real files as a platform would receive them: WebP for the
                    # re-encode, lossless PNG for the geometric and colour changes.
                    data, ext = apply_bytes(t, Image.open(path), seed)
                    out = tmp / f"{path.stem}__{t}.{ext}"
                    out.write_bytes(data)
                    expected[out.name] = (path.name, t, is_known)
        for path in animated:
            out = tmp / f"{path.stem}__identity.webp"
            shutil.copyfile(path, out)
            expected[out.name] = (path.name, "identity", False)

        report = DemoReport(db_url=str(db.url))
        report.errors.extend(str(r.error) for r in imported.failed)
        matcher = Matcher.from_db(db, banks=[DEMO_BANK])
        for r in scan([tmp], matcher):
            if r.error is not None:
                report.errors.append(str(r.error))
                continue
            sticker, transform, is_known = expected[Path(r.path).name]
            best = r.matches[0] if r.matches else None
            report.rows.append(
                DemoRow(
                    sticker=sticker,
                    transform=transform,
                    expected=is_known,
                    matched=best is not None,
                    bank=best.bank if best else None,
                    signal=f"{best.query_signal}→{best.signal_type}" if best else None,
                    distance=best.distance if best else None,
                )
            )
        return report
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)
