"""LiveIndex: the change-log follower applied incrementally, snapshots in ``index_dir``,
disabled content and banks, out-of-order ids. SQLite and PostgreSQL (``db`` fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from stickerguard.banks import (
    add_signals, create_bank, delete_bank, delete_content, first_change_id, last_change_id, prune_changes,
    read_changes, update_bank, update_content,
)
from stickerguard.service import LiveIndex

from web_fixtures import LOL_PDQ, SMILE_PDQ, web_db  # noqa: F401

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _hits(index, value, kind="pdq"):
    return [(m.bank, m.content_id, m.distance) for m in index.match_hash(kind, value)]


def test_follower_applies_each_change_without_rebuilding(web_db):
    create_bank(web_db, "a")
    add_signals(web_db, "a", [{"pdq": SMILE_PDQ}])
    idx = LiveIndex(web_db)
    idx.load()
    assert (_hits(idx, SMILE_PDQ), idx.status()["signals"]) == ([("a", 1, 0)], 1)
    add_signals(web_db, "a", [{"pdq": LOL_PDQ, "md5": MD5}])
    assert idx.poll() == 1
    assert _hits(idx, LOL_PDQ) == [("a", 2, 0)] and _hits(idx, MD5, "md5") == [("a", 2, 0)]
    update_content(web_db, "a", 2, disabled_until=datetime.now(timezone.utc) + timedelta(days=1))
    idx.poll()
    assert _hits(idx, LOL_PDQ) == []
    update_content(web_db, "a", 2, disabled_until=datetime.now(timezone.utc) - timedelta(seconds=1))
    idx.poll()
    assert _hits(idx, LOL_PDQ) == [("a", 2, 0)]  # a past date: enabled again
    delete_content(web_db, "a", 1)
    idx.poll()
    assert _hits(idx, SMILE_PDQ) == [] and idx.status()["signals"] == 2
    update_bank(web_db, "a", enabled=False)
    idx.poll()
    assert _hits(idx, MD5, "md5") == []
    update_bank(web_db, "a", enabled=True)
    idx.poll()
    assert _hits(idx, MD5, "md5") == [("a", 2, 0)]
    assert (idx.status()["applied"], idx.status()["rebuilds"], idx.status()["incremental"]) == (6, 0, True)
    # a deleted bank whose name comes back under a new id: one reload
    delete_bank(web_db, "a")
    create_bank(web_db, "a")
    _, ids = add_signals(web_db, "a", [{"pdq": SMILE_PDQ}])
    idx.poll()
    assert _hits(idx, SMILE_PDQ) == [("a", ids[0], 0)] and _hits(idx, MD5, "md5") == []
    assert idx.status()["rebuilds"] == 1


def test_bank_disabled_at_load_comes_back_when_enabled(web_db):
    create_bank(web_db, "off")
    add_signals(web_db, "off", [{"pdq": SMILE_PDQ}])
    update_bank(web_db, "off", enabled=False)
    idx = LiveIndex(web_db)
    idx.load()
    assert idx.status()["signals"] == 0
    update_bank(web_db, "off", enabled=True)
    idx.poll()
    assert _hits(idx, SMILE_PDQ) == [("off", 1, 0)]


def test_snapshot_is_shared_and_replays_later_changes(web_db, tmp_path):
    create_bank(web_db, "s")
    add_signals(web_db, "s", [{"pdq": SMILE_PDQ}])
    first = LiveIndex(web_db, index_dir=tmp_path)
    first.load()
    snaps = [p.name for p in tmp_path.iterdir() if p.name.startswith("matcher-")]
    assert len(snaps) == 1
    add_signals(web_db, "s", [{"pdq": LOL_PDQ}])
    second = LiveIndex(web_db, index_dir=tmp_path)
    second.load()  # from the snapshot: position before the second add
    assert (second.position, second.status()["signals"]) == (first.position, 1)
    assert second.poll() == 1
    assert _hits(second, LOL_PDQ) == [("s", 2, 0)]
    second.save()
    third = LiveIndex(web_db, index_dir=tmp_path)
    third.load()
    assert (third.status()["signals"], third.poll()) == (2, 0)


def test_pruned_change_log_keeps_the_newest_row_and_stale_snapshots_rebuild(web_db, tmp_path):
    create_bank(web_db, "p")  # change 1 (bank)
    add_signals(web_db, "p", [{"pdq": SMILE_PDQ}])  # change 2 (signals)
    LiveIndex(web_db, index_dir=tmp_path).load()  # snapshot at position 2
    add_signals(web_db, "p", [{"pdq": LOL_PDQ}])  # change 3
    add_signals(web_db, "p", [{"md5": MD5}])  # change 4
    start = first_change_id(web_db)
    assert last_change_id(web_db) == start + 3
    assert prune_changes(web_db, older_than=timedelta(days=1)) == 0  # all newer than a day
    assert prune_changes(web_db, older_than=timedelta(0)) == 3
    assert [c.id for c in read_changes(web_db, 0)] == [start + 3]
    assert (first_change_id(web_db), last_change_id(web_db)) == (start + 3, start + 3)
    # the snapshot (position start+1) missed pruned change start+2: rebuilt, not replayed
    idx = LiveIndex(web_db, index_dir=tmp_path)
    idx.load()
    assert (idx.position, idx.status()["signals"]) == (start + 3, 3)
    assert _hits(idx, LOL_PDQ) == [("p", 2, 0)] and _hits(idx, MD5, "md5") == [("p", 3, 0)]


def test_out_of_order_ids_are_waited_for(web_db):
    """A change whose id is below one already applied (it committed later) is still applied.

    PostgreSQL: two real transactions (the first takes its id, the second commits first).
    SQLite has one writer at a time, so the ids are written explicitly.
    """
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from stickerguard.banks import log_change
    from stickerguard.store import ChangeLog

    create_bank(web_db, "g")
    idx = LiveIndex(web_db)
    idx.load()
    start = idx.position
    if web_db.dialect == "postgresql":
        slow = Session(web_db.engine)
        slow.begin()
        log_change(slow, "bank", bank_id=999)  # takes id start+1, not committed yet
        _, ids = add_signals(web_db, "g", [{"pdq": SMILE_PDQ}])  # start+2, committed
        idx.poll()
        assert (idx.position, sorted(idx._gaps)) == (start + 2, [start + 1])
        slow.commit()
        slow.close()
    else:
        now = datetime.now(timezone.utc)
        with web_db.session() as s:
            s.execute(insert(ChangeLog).values(id=start + 2, kind="bank", bank_id=999, payload={}, created_at=now))
        idx.poll()
        assert (idx.position, sorted(idx._gaps)) == (start + 2, [start + 1])
        _, ids = add_signals(web_db, "g", [{"pdq": SMILE_PDQ}])  # id start+3
        with web_db.session() as s:
            s.execute(insert(ChangeLog).values(id=start + 1, kind="bank", bank_id=998, payload={}, created_at=now))
    before = idx.applied
    late = 1 + (web_db.dialect == "sqlite")  # the late id (+ the signals change on SQLite)
    assert idx.poll() == late
    assert (idx._gaps, idx.applied - before, idx.poll()) == ({}, late, 0)
    assert _hits(idx, SMILE_PDQ) == [("g", ids[0], 0)]
