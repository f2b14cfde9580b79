"""The in-memory matcher of one server process, kept fresh from the change log.

:class:`LiveIndex` loads the enabled banks once, then a follower thread applies each
committed change-log row incrementally (``Matcher.add_rows`` / ``remove_signals`` /
``set_bank``) — woken by PostgreSQL NOTIFY, or polling on SQLite. Content items with a
future ``disabled_until`` stay indexed but are filtered out of results, so they come
back by themselves when the date passes. If the Matcher in use has no incremental API,
a change triggers a rebuild from the database instead (slow, but correct).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from ..banks import CHANNEL, Change, first_change_id, iter_bank_signals, last_change_id, read_changes
from ..match import Match, Matcher
from ..store.db import Database
from ..store.models import BankContent

log = logging.getLogger("stickerguard.index")
GAP_WAIT_S = 10.0
"""How long a missing change-log id (a transaction still open on PostgreSQL) is waited for."""


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


class LiveIndex:
    """A Matcher plus the change-log position it reflects. Thread-safe: matches run
    without a lock here (the Matcher has its own read/write lock); polls are serialised.

    Attributes:
        position: highest change-log id applied (every id at or below it is applied,
            except ids given up on after :data:`GAP_WAIT_S`).
        loaded_at, checked_at: ``time.time()`` of the load and of the last successful
            change-log check (None before); ``/status`` compares ``checked_at`` with the
            staleness limit.
        applied: change-log rows applied since start; ``rebuilds``: full reloads done.
    """

    def __init__(self, db: Database, *, poll_interval_s: float = 0.25, index_dir: str | Path | None = None,
                 **matcher_options: Any) -> None:
        self.db = db
        self.index_dir = None if index_dir is None else Path(index_dir)
        self.poll_interval_s = poll_interval_s
        self.matcher_options = matcher_options
        self.matcher: Matcher | None = None
        self.position = 0
        self.loaded_at: float | None = None
        self.checked_at: float | None = None
        self.applied = 0
        self.rebuilds = 0
        self._disabled: dict[int, datetime] = {}
        self._gaps: dict[int, float] = {}
        self._lock = threading.RLock()  # matcher reads and writes
        self._poll_lock = threading.Lock()  # one poll at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        """(Re)build the matcher from the database; the change-log position is read first,
        so changes committed during the load are applied again afterwards (idempotently).

        With ``index_dir``, a snapshot saved there for this database is loaded instead
        (then the changes after its position are applied), or written after a build; a
        file lock makes concurrent workers build once and share it.
        """
        if self.index_dir is not None:
            matcher, position = self._load_snapshot()
        else:
            matcher, position = self._build()
        self._install(matcher, position)

    def _build(self) -> tuple[Matcher, int]:
        position = last_change_id(self.db)
        matcher = Matcher.from_rows(iter_bank_signals(self.db, include_disabled=True), **self.matcher_options)
        matcher.position = position
        return matcher, position

    def _snapshot_path(self) -> Path:
        key = hashlib.sha256(self.db.engine.url.render_as_string(hide_password=False).encode()).hexdigest()[:16]
        return self.index_dir / f"matcher-{key}"

    def _load_snapshot(self) -> tuple[Matcher, int]:
        import fcntl

        path = self._snapshot_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / f".{path.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one worker builds, the others then load its file
            if path.exists():
                try:
                    matcher = Matcher.load(path)
                    pos = matcher.position
                    if isinstance(pos, int) and first_change_id(self.db) - 1 <= pos <= last_change_id(self.db):
                        return matcher, pos
                    log.warning("index snapshot %s is ahead of the database, or older than its pruned "
                                "change log: rebuilding", path)
                except (ValueError, OSError, KeyError):
                    log.exception("index snapshot %s unreadable: rebuilding", path)
            matcher, position = self._build()
            matcher.save(path)
            return matcher, position

    def save(self) -> None:
        """Write the current matcher (and its position) to ``index_dir``, if set."""
        if self.index_dir is not None and self.matcher is not None:
            import fcntl

            path = self._snapshot_path()
            with open(path.parent / f".{path.name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                with self._poll_lock:
                    self.matcher.position = self.position
                    self.matcher.save(path)

    def _install(self, matcher: Matcher, position: int) -> None:
        with self.db.session() as s:
            disabled = {cid: _aware(t) for cid, t in s.execute(
                select(BankContent.id, BankContent.disabled_until).where(BankContent.disabled_until.is_not(None)))}
        with self._lock:
            self.matcher, self._disabled, self.position = matcher, disabled, position
            self._gaps.clear()
            self.loaded_at = self.checked_at = time.time()

    @property
    def incremental(self) -> bool:
        """True when the Matcher supports ``add_rows``/``remove_signals``/``set_bank``."""
        return all(hasattr(Matcher, n) for n in ("add_rows", "remove_signals", "set_bank"))

    # ----------------------------------------------------------------- following
    def poll(self) -> int:
        """Apply every committed change after :attr:`position`; returns how many were applied."""
        with self._poll_lock:
            after = min([self.position, *(g - 1 for g in self._gaps)])
            changes = [c for c in read_changes(self.db, after) if c.id > self.position or c.id in self._gaps]
            if changes:
                with self._lock:
                    self._apply(changes)
            self.checked_at = time.time()
            return len(changes)

    def _apply(self, changes: list[Change]) -> None:
        now = time.monotonic()
        for c in changes:
            self._gaps.pop(c.id, None)
        top = max(c.id for c in changes)
        if top > self.position:
            seen = {c.id for c in changes}
            for missing in range(self.position + 1, top):
                if missing not in seen:
                    self._gaps.setdefault(missing, now)
            self.position = top
        for gap, since in list(self._gaps.items()):
            if now - since > GAP_WAIT_S:
                del self._gaps[gap]
        if not self.incremental:
            self.load()
            self.rebuilds += 1
            self.applied += len(changes)
            return
        for c in changes:
            self._apply_one(c)
            self.applied += 1

    def _apply_one(self, c: Change) -> None:
        m = self.matcher
        if c.kind == "signals":
            lo, hi = (c.payload.get("content_ids") or [None, None])
            rows = _new_rows(m, iter_bank_signals(
                self.db, include_disabled=True, bank_id=c.bank_id,
                signal_ids=(c.first_signal_id, c.last_signal_id),
                content_ids=None if lo is None else (lo, hi)))
            if rows:
                m.add_rows(rows)
        elif c.kind == "content":
            if c.payload.get("removed"):
                m.remove_signals(c.payload.get("signal_ids", []))
                self._disabled.pop(c.content_id, None)
            elif c.payload.get("disabled_until"):
                self._disabled[c.content_id] = _aware(datetime.fromisoformat(c.payload["disabled_until"]))
            else:
                self._disabled.pop(c.content_id, None)
        elif c.kind == "bank":
            self._apply_bank(c)

    def _apply_bank(self, c: Change) -> None:
        """Bank created/updated/deleted. Settings go through ``set_bank``; an enabled bank
        whose rows the matcher does not hold (new, or disabled when loaded) gets them
        from the database; a deleted bank that was held triggers a reload (its name may
        be reused by a new bank id)."""
        from ..store.models import Bank

        with self.db.session() as s:
            bank = s.get(Bank, c.bank_id)
            row = None if bank is None else (bank.threshold, bank.enabled, tuple(bank.labels))
        if c.payload.get("deleted") or row is None:  # SQLite may already reuse the id
            if self.matcher.set_bank(c.bank_id, enabled=False):
                self.load()
                self.rebuilds += 1
            return
        threshold, enabled, labels = row
        held = self.matcher.set_bank(c.bank_id, threshold=threshold, enabled=enabled, labels=labels)
        if enabled and not held:
            rows = _new_rows(self.matcher, iter_bank_signals(self.db, include_disabled=True, bank_id=c.bank_id))
            if rows:
                self.matcher.add_rows(rows)

    def start(self) -> None:
        """Start the follower thread (daemon); PostgreSQL: LISTEN, else poll."""
        if self._thread is not None:
            return
        target = self._listen_pg if self.db.dialect == "postgresql" else self._poll_loop
        self._thread = threading.Thread(target=target, name="stickerguard-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the follower thread (waits up to 5 s)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _safe_poll(self) -> None:
        try:
            self.poll()
        except Exception:  # keep following; /status turns 503 when checks keep failing
            log.exception("change-log poll failed")

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._safe_poll()
            self._wake.wait(self.poll_interval_s)
            self._wake.clear()

    def _listen_pg(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.db.engine.raw_connection()
            except Exception:
                log.exception("LISTEN connection failed")
                self._stop.wait(1.0)
                continue
            try:
                conn = raw.driver_connection
                conn.autocommit = True
                conn.execute(f"LISTEN {CHANNEL}")
                self._safe_poll()  # anything committed before LISTEN took effect
                while not self._stop.is_set():
                    try:  # psycopg >= 3.2: wait for one NOTIFY or the timeout
                        for _ in conn.notifies(timeout=self.poll_interval_s * 4, stop_after=1):
                            pass
                    except TypeError:  # older psycopg: no timeout argument, poll instead
                        self._stop.wait(self.poll_interval_s)
                    self._safe_poll()
            except Exception:
                log.exception("LISTEN loop failed; reconnecting")
                self._stop.wait(0.5)
            finally:
                try:
                    raw.invalidate()
                except Exception:
                    pass

    # ------------------------------------------------------------------ matching
    def _visible(self, matches: list[Match]) -> list[Match]:
        if not self._disabled:
            return matches
        now = datetime.now(timezone.utc)
        return [m for m in matches if not (m.content_id in self._disabled and self._disabled[m.content_id] > now)]

    def match(self, signals, *, banks: Sequence[str] | None = None) -> list[Match]:
        """``Matcher.match`` minus disabled content. Raises RuntimeError before :meth:`load`."""
        return self._visible(self._ready().match(signals, banks=banks))

    def match_hash(self, signal_type: str, value: str, *, banks: Sequence[str] | None = None) -> list[Match]:
        """``Matcher.match_hash`` minus disabled content (ValueError/BankError as there)."""
        return self._visible(self._ready().match_hash(signal_type, value, banks=banks))

    def _ready(self) -> Matcher:
        if self.matcher is None:
            raise RuntimeError("index not loaded")
        return self.matcher

    def status(self) -> dict[str, Any]:
        """``{"loaded", "position", "age_s" (since last check), "signals", "applied", "rebuilds", "incremental"}``."""
        m = self.matcher
        return {
            "loaded": m is not None,
            "position": self.position,
            "age_s": None if self.checked_at is None else round(time.time() - self.checked_at, 3),
            "signals": 0 if m is None else _size(m),
            "applied": self.applied,
            "rebuilds": self.rebuilds,
            "incremental": self.incremental,
        }


def _new_rows(matcher: Matcher, rows) -> list:
    """``rows`` whose signal id the matcher does not hold yet (a change can be seen twice:
    committed during the initial load, or two PostgreSQL imports interleaving ids)."""
    rows = list(rows)
    if not rows:
        return rows
    held = getattr(matcher, "held", None)
    if held is not None:
        mask = held([r.signal_id for r in rows])
        return [r for r, h in zip(rows, mask) if not h]
    # until Matcher has a public ``held``: its PDQ index and exact-row table
    ids = np.fromiter((r.signal_id for r in rows), dtype=np.int64, count=len(rows))
    pdq = getattr(matcher, "_pdq", None)
    mask = pdq.contains(ids) if hasattr(pdq, "contains") else np.zeros(len(rows), dtype=bool)
    exact = getattr(matcher, "_exact_rows", getattr(matcher, "_signals", {}))
    return [r for r, h in zip(rows, mask.tolist()) if not h and r.signal_id not in exact]


def _size(matcher: Matcher) -> int:
    if hasattr(matcher, "__len__"):
        return len(matcher)
    stats = matcher.stats() if hasattr(matcher, "stats") else {}
    return sum(sum(b.get("signals", {}).values()) for b in stats.values())
