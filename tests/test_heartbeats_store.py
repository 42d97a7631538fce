"""Heartbeat storage on a real SQLite file: the CronSafe-ready schema, ping history, retention, indexes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import aiosqlite
import pytest

from tickstem_tui.clock import FakeClock
from tickstem_tui.domain.errors import Conflict, NotFound
from tickstem_tui.domain.heartbeats import Face, Heartbeat, HeartbeatSpec, PingKind
from tickstem_tui.runtime import Runtime
from tickstem_tui.services import heartbeats as heartbeat_service
from tickstem_tui.store import database
from tickstem_tui.store.database import Database, Versioned
from tickstem_tui.store.heartbeats import PING_HISTORY, PingedRows


@pytest.fixture
async def rt(fake_runtime: Runtime) -> Runtime:
    await fake_runtime.watchdog.wait_idle()
    return fake_runtime


async def test_the_watchdog_and_history_queries_use_their_indexes(rt: Runtime) -> None:
    for sql in (
        "SELECT MIN(alert_after) FROM heartbeats WHERE alert_after IS NOT NULL",
        "SELECT * FROM heartbeats WHERE alert_after IS NOT NULL AND alert_after <= 1 ORDER BY alert_after LIMIT 5",
    ):
        plan = " ".join(str(row[3]) for row in await rt.db.fetch_all(f"EXPLAIN QUERY PLAN {sql}"))
        assert "heartbeats_alert_after" in plan, plan
    # History follows the heartbeat's chain of pings: rowid lookups, never a scan of the ping table.
    params = {"heartbeat": "x", "depth": 60, "limit": 50, "offset": 10}
    plan = " ".join(str(row[3]) for row in await rt.db.fetch_all(f"EXPLAIN QUERY PLAN {PING_HISTORY}", params))
    assert "SEARCH heartbeat_pings USING INTEGER PRIMARY KEY" in plan and "SCAN heartbeat_pings" not in plan, plan


async def test_cronsafe_monitors_share_the_model(rt: Runtime, fake_clock: FakeClock) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    channels = [{"type": "webhook", "url": "http://127.0.0.1:9/alerts"}]
    monitor = await service.create_from_spec(
        owner, HeartbeatSpec("nightly", 3600, 300), face=Face.CRONSAFE, alert_channels=channels
    )
    assert monitor.slug is not None and len(monitor.slug) == 12 and monitor.slug.isalnum()
    assert monitor.status == "pending" and monitor.alert_after is None and len(monitor.id) == 36
    custom = await service.create_from_spec(owner, HeartbeatSpec("b", 60, 0), face=Face.CRONSAFE, slug="nightly-backup")
    with pytest.raises(Conflict):
        await service.create_from_spec(owner, HeartbeatSpec("c", 60, 0), face=Face.CRONSAFE, slug="nightly-backup")
    # The Tickstem face does not see CronSafe monitors, by list or by id.
    assert await service.list_heartbeats(owner, Face.TICKSTEM) == []
    with pytest.raises(NotFound):
        await service.get(owner, monitor.id, Face.TICKSTEM)

    assert monitor.slug is not None
    await service.ping_slug(monitor.slug, kind=PingKind.START, ip="203.0.113.1")
    await fake_clock.advance(42)
    result = await service.ping_slug(monitor.slug, kind=PingKind.FAIL, output="boom €", user_agent="curl/8")
    after = result.heartbeat
    assert (after.status, after.last_failure_output, after.last_duration_ms) == ("down", "boom €", 42_000)
    assert after.alert_channels == channels
    fail, start = await service.pings(owner, monitor.id, limit=10)
    assert (fail.kind, fail.output, fail.duration_ms, fail.user_agent) == (PingKind.FAIL, "boom €", 42_000, "curl/8")
    assert (start.kind, start.ip) == (PingKind.START, "203.0.113.1")
    rows = await rt.db.fetch_all("SELECT old_status, new_status, reason FROM flips WHERE subject_id = ?", (monitor.id,))
    assert [(r[0], r[1]) for r in rows] == [("pending", "down")] and "boom" in rows[0][2]

    with pytest.raises(NotFound):
        await service.ping_slug("no-such-slug")
    assert (await service.ping(custom.token)).status == "ok"  # every heartbeat also has a token


async def test_delete_takes_the_history_along(rt: Runtime) -> None:
    owner = rt.services.accounts.owner_id
    hb = await rt.services.heartbeats.create(owner, {"name": "gone"})
    for _ in range(3):
        await rt.services.heartbeats.ping(hb.token)
    assert await rt.services.heartbeats.repo.ping_count(hb.id) == 3
    await rt.services.heartbeats.delete(owner, hb.id)
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM heartbeat_pings") == 0
    with pytest.raises(NotFound):
        await rt.services.heartbeats.delete(owner, hb.id)
    with pytest.raises(NotFound):
        await rt.services.heartbeats.pings(owner, hb.id, limit=10)


async def test_retention_prunes_by_age_and_caps_per_heartbeat(rt: Runtime, fake_clock: FakeClock) -> None:
    owner = rt.services.accounts.owner_id
    repo = rt.services.heartbeats.repo
    busy = await rt.services.heartbeats.create(owner, {"name": "busy"})
    quiet = await rt.services.heartbeats.create(owner, {"name": "quiet"})
    await rt.services.heartbeats.ping(quiet.token)
    for _ in range(7):
        await rt.services.heartbeats.ping(busy.token, user_agent="old")
    fake_clock_start = fake_clock.now()
    await fake_clock.advance(timedelta(days=2))
    for n in range(5):
        await rt.services.heartbeats.ping(busy.token, user_agent=f"new{n}")

    assert await repo.prune_pings(fake_clock_start + timedelta(days=1)) == 8
    assert await repo.ping_count(quiet.id) == 0 and await repo.ping_count(busy.id) == 5
    assert await repo.trim_pings(keep=3) == 2
    kept = await rt.services.heartbeats.pings(owner, busy.id, limit=10)
    assert [p.user_agent for p in kept] == ["new4", "new3", "new2"]
    # The retention loop runs both pruners (age and cap) with the settings' values.
    pruned = await rt.retention.prune_once()
    assert pruned["heartbeat_pings"] == 0 and pruned["heartbeat_ping_cap"] == 0


async def test_pings_start_from_remembered_rows_but_never_from_stale_ones(rt: Runtime, fake_clock: FakeClock) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    hb = await service.create(owner, {"name": "cached", "interval_secs": 60, "grace_secs": 30})
    await service.ping(hb.token)
    version = await rt.db.fetch_value("SELECT version FROM heartbeats WHERE id = ?", (hb.id,))

    # Another process changes the row with plain SQL (no version of its own): the trigger raises the
    # version, so the next ping reads the row again and computes its deadline from the new interval.
    def change_elsewhere() -> None:
        with closing(sqlite3.connect(rt.db.path)) as other, other:
            other.execute("UPDATE heartbeats SET interval_secs = 600 WHERE id = ?", (hb.id,))

    await asyncio.to_thread(change_elsewhere)
    assert await rt.db.fetch_value("SELECT version FROM heartbeats WHERE id = ?", (hb.id,)) == version + 1
    await fake_clock.advance(timedelta(seconds=5))
    result = await service.ping(hb.token)
    assert result.heartbeat.next_expected_at == fake_clock.now() + timedelta(seconds=600)
    stored = await service.get(owner, hb.id)
    assert stored.spec.interval_secs == 600 and stored.next_expected_at == result.heartbeat.next_expected_at

    # Paused through the service: the remembered row's version is out of date, so the ping reads the row
    # and is recorded as arriving while paused (it still names itself the heartbeat's newest ping).
    await service.pause(owner, hb.id)
    paused_ping = await service.ping(hb.token)
    assert paused_ping.status == "paused" and not paused_ping.accepted
    assert (await service.pings(owner, hb.id, limit=1))[0].paused
    await service.resume(owner, hb.id)
    assert (await service.ping(hb.token)).accepted

    # Deleted: the remembered row is no help; the ping is refused and nothing is written.
    await service.delete(owner, hb.id)
    with pytest.raises(NotFound):
        await service.ping(hb.token)
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM heartbeat_pings") == 0


async def test_pings_of_one_heartbeat_in_one_batch_each_see_the_last(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    hb = await service.create(owner, {"name": "burst"})
    await service.ping(hb.token)
    # Twenty failure reports gathered at once share batches: each starts from the row as the ping before
    # it in the same transaction left it, so none reads the row again (a failed compare-and-set would).
    # Each changes the row (its output), none is lost, none fails, and the row ends as the last one left it.
    reads: list[tuple[object, ...]] = []
    read_row = heartbeat_service.fetch_versioned

    def counted(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> object:
        reads.append(params)
        return read_row(conn, where, params)

    monkeypatch.setattr(heartbeat_service, "fetch_versioned", counted)
    results = await asyncio.gather(*(service.ping(hb.token, kind=PingKind.FAIL, output=f"run {n}") for n in range(20)))
    assert reads == []
    assert [r.heartbeat.last_failure_output for r in results] == [f"run {n}" for n in range(20)]
    assert await service.repo.ping_count(hb.id) == 21
    assert await rt.db.fetch_value("SELECT version FROM heartbeats WHERE id = ?", (hb.id,)) == 21
    assert (await service.get(owner, hb.id)).last_failure_output == "run 19"


def test_remembered_rows_are_bounded_and_never_go_back_a_version() -> None:
    rows = PingedRows(capacity=2)
    first = Heartbeat.__new__(Heartbeat)
    object.__setattr__(first, "id", "hb_1")
    rows.put(("token = ?", "a"), Versioned(first, 5))
    rows.put(("token = ?", "a"), Versioned(first, 4))  # a slower ping's result, committed earlier
    assert rows.get(("token = ?", "a")) == Versioned(first, 5)
    rows.put(("token = ?", "b"), Versioned(first, 1))
    rows.put(("token = ?", "a"), Versioned(first, 6))  # used again: now the newest
    rows.put(("token = ?", "c"), Versioned(first, 1))
    assert len(rows) == 2 and rows.get(("token = ?", "b")) is None and rows.get(("token = ?", "a")) is not None
    rows.discard(("token = ?", "a"))
    assert rows.get(("token = ?", "a")) is None


def _insert(n: int) -> Callable[[sqlite3.Connection], int]:
    def run(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        if n % 10 == 3:
            raise NotFound(f"no {n}")
        return n

    return run


async def test_write_sync_batches_share_one_commit_and_fail_alone(tmp_path: Path) -> None:
    """The ping path's Database.write_sync: queued plain functions commit together, one failure undoes only itself."""
    db = await Database.open(tmp_path / "batch.sqlite3")
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")

        async def insert_async(conn: aiosqlite.Connection) -> str:
            await conn.execute("INSERT INTO t (n) VALUES (1000)")
            return "async"

        batches = db.batches
        results = await asyncio.gather(
            *(db.write_sync(_insert(n)) for n in range(30)),
            db.write(insert_async),
            db.write_sync(_insert(40)),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, NotFound)] == [results[3], results[13], results[23]]
        assert results[-2:] == ["async", 40]
        assert db.batches - batches < 5  # queued while the writer was busy: committed together
        stored = [row[0] for row in await db.fetch_all("SELECT n FROM t ORDER BY n")]
        assert stored == [n for n in range(30) if n % 10 != 3] + [40, 1000]
    finally:
        await db.close()


async def test_quick_writes_commit_on_the_loop_thread_and_still_fail_alone(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "quick.sqlite3")
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        threads: set[int] = set()

        def where(conn: sqlite3.Connection) -> None:
            threads.add(threading.get_ident())

        quick_before = db.quick_batches
        results = await asyncio.gather(
            *(db.write_sync(_insert(n), quick=True) for n in range(20)),
            db.write_sync(where, quick=True),
            return_exceptions=True,
        )
        assert threads == {threading.get_ident()}  # no hand-off to the writer's thread
        assert db.quick_batches > quick_before
        assert [r for r in results if isinstance(r, NotFound)] == [results[3], results[13]]
        stored = [row[0] for row in await db.fetch_all("SELECT n FROM t ORDER BY n")]
        assert stored == [n for n in range(20) if n % 10 != 3]

        # Not quick: the writer's own thread, never the loop's.
        threads.clear()
        await db.write_sync(where)
        assert threads and threading.get_ident() not in threads
    finally:
        await db.close()


@pytest.mark.parametrize("quick", [True, False])
async def test_a_cancelled_caller_leaves_its_queued_write_to_commit_and_the_writer_running(
    tmp_path: Path, quick: bool
) -> None:
    """A request handler cancelled mid-write (a client gone) must neither lose the write nor break the queue."""
    db = await Database.open(tmp_path / "cancel.sqlite3")
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        callers = [asyncio.create_task(db.write_sync(_insert(n), quick=quick)) for n in (1, 2, 4)]
        await asyncio.sleep(0)  # all three queued, none committed yet
        callers[1].cancel()
        done = await asyncio.gather(*callers, return_exceptions=True)
        assert done[0] == 1 and done[2] == 4
        assert isinstance(done[1], asyncio.CancelledError)
        assert await db.write_sync(_insert(5), quick=quick) == 5  # the writer is still taking writes
        assert [row[0] for row in await db.fetch_all("SELECT n FROM t ORDER BY n")] == [1, 2, 4, 5]
    finally:
        await db.close()


@pytest.mark.parametrize("quick", [True, False])
async def test_after_commit_runs_once_for_each_committed_write_and_never_for_one_undone(
    tmp_path: Path, quick: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await Database.open(tmp_path / "hooks.sqlite3")
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        published: list[int] = []
        seen_in_memo: set[int] = set()

        def insert(n: int) -> Callable[[sqlite3.Connection], int]:
            def run(conn: sqlite3.Connection) -> int:
                transaction = db.transaction
                seen_in_memo.update(transaction.memo)
                transaction.memo[n] = True
                transaction.after_commit(lambda: published.append(n))
                conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
                if n % 10 == 3:
                    raise NotFound(f"no {n}")
                return n

            return run

        results = await asyncio.gather(
            *(db.write_sync(insert(n), quick=quick) for n in range(12)), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, NotFound)] == [results[3]]
        # The failed write (and, on the loop's thread, the whole first attempt of its batch) was undone:
        # what each registered runs only for the writes that were committed, once each, in order.
        assert published == [n for n in range(12) if n != 3]
        assert 0 in seen_in_memo  # later writes of a batch saw what earlier ones left

        # A batch that fails as a whole (the lock held elsewhere past the wait) publishes nothing.
        monkeypatch.setattr(database, "BUSY_WAIT_SECS", 0.2)
        other = sqlite3.connect(db.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sqlite3.OperationalError):
                await db.write_sync(insert(50), quick=quick)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert published == [n for n in range(12) if n != 3]
        assert await db.write_sync(insert(51), quick=quick) == 51
        assert published[-1] == 51
    finally:
        await db.close()


async def test_a_lock_held_elsewhere_never_stalls_the_loop(tmp_path: Path) -> None:
    """Another process holding the write lock: quick writes wait on the writer's thread, the loop runs on."""
    path = tmp_path / "locked.sqlite3"
    db = await Database.open(path)
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # like `tickstem-tui keys create` mid-transaction
        try:
            write = asyncio.ensure_future(db.write_sync(_insert(1), quick=True))
            started = time.perf_counter()
            lags = []
            for _ in range(20):  # the loop keeps turning while the write waits for the lock
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - before)
            assert not write.done()
            assert max(lags) < 0.1, lags
        finally:
            other.execute("COMMIT")
            other.close()
        assert await write == 1
        assert time.perf_counter() - started < 5
        assert await db.fetch_value("SELECT COUNT(*) FROM t") == 1
    finally:
        await db.close()


async def test_steady_writes_keep_the_wal_from_growing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints run while quick writes keep coming, and the WAL starts over instead of growing."""
    monkeypatch.setattr(database, "CHECKPOINT_EVERY_SECS", 0.02)
    path = tmp_path / "wal.sqlite3"
    db = await Database.open(path)
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, pad TEXT)")

        def insert(n: int) -> Callable[[sqlite3.Connection], None]:
            return lambda conn: conn.execute("INSERT INTO t VALUES (?, ?)", (n, "x" * 2000)).close()

        written = 0

        async def writer(first: int) -> None:
            nonlocal written
            n = first
            while not stop.is_set():  # steady: never a quiet moment in which the WAL could start over
                await db.write_sync(insert(n), quick=True)
                n += 8
                written += 1

        stop = asyncio.Event()
        writers = [asyncio.create_task(writer(k)) for k in range(8)]
        sizes = []
        for _ in range(40):
            await asyncio.sleep(0.02)
            sizes.append(await asyncio.to_thread(os.path.getsize, f"{path}-wal"))
        stop.set()
        await asyncio.gather(*writers)
        assert db.checkpoints >= 3
        # Without the writer's own checkpoint the WAL would hold every row written.
        assert max(sizes) < written * 2000 / 3, (max(sizes), written)
        assert await db.fetch_value("SELECT COUNT(*) FROM t") == written
    finally:
        await db.close()
