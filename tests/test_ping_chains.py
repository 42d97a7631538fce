"""Ping history kept as one chain per heartbeat on a real SQLite file: order, pages, pruning, deletion, migration."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from tickstem_tui.clock import FakeClock
from tickstem_tui.domain.heartbeats import Heartbeat
from tickstem_tui.runtime import Runtime
from tickstem_tui.services.heartbeats import HeartbeatService
from tickstem_tui.store import database
from tickstem_tui.store.database import Database
from tickstem_tui.store.heartbeats import HeartbeatRepository


@pytest.fixture
async def rt(fake_runtime: Runtime) -> Runtime:
    await fake_runtime.watchdog.wait_idle()
    return fake_runtime


async def _labels(service: HeartbeatService, hb: Heartbeat, limit: int = 100, offset: int = 0) -> list[str | None]:
    return [p.user_agent for p in await service.pings(hb.account_id, hb.id, limit, offset)]


async def test_each_heartbeats_history_is_its_own_pings_newest_first_in_pages(rt: Runtime) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    beats = [await service.create(owner, {"name": f"hb{n}"}) for n in range(3)]
    # Gathered, so pings of different heartbeats share batches and interleave in the table.
    for round_ in range(4):
        await asyncio.gather(
            *(service.ping(hb.token, user_agent=f"{hb.spec.name}-{round_}-{k}") for k in range(3) for hb in beats)
        )
    for hb in beats:
        expected = [f"{hb.spec.name}-{r}-{k}" for r in reversed(range(4)) for k in reversed(range(3))]
        assert await _labels(service, hb) == expected
        assert await _labels(service, hb, limit=5, offset=4) == expected[4:9]
        assert await _labels(service, hb, limit=5, offset=10) == expected[10:]
        assert await _labels(service, hb, limit=5, offset=12) == []
        assert await service.repo.ping_count(hb.id) == 12
    fresh = await service.create(owner, {"name": "never pinged"})
    assert await _labels(service, fresh) == [] and await service.repo.ping_count(fresh.id) == 0


async def test_a_ping_from_a_stale_remembered_row_is_recorded_once(rt: Runtime, fake_clock: FakeClock) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    hb = await service.create(owner, {"name": "edited", "interval_secs": 60})
    await service.ping(hb.token, user_agent="first")

    def change_elsewhere() -> None:
        with closing(sqlite3.connect(rt.db.path)) as other, other:
            other.execute("UPDATE heartbeats SET interval_secs = 600 WHERE id = ?", (hb.id,))

    await asyncio.to_thread(change_elsewhere)
    await fake_clock.advance(5)
    # The remembered row fails its compare-and-set after its ping row was written: that row is taken back
    # and the ping recorded again from the row as it is now, once.
    result = await service.ping(hb.token, user_agent="second")
    assert result.heartbeat.next_expected_at == fake_clock.now() + timedelta(seconds=600)
    assert await _labels(service, hb) == ["second", "first"]
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM heartbeat_pings") == 2


async def test_pruned_chains_end_where_pruning_stopped_even_when_seqs_are_reused(
    rt: Runtime, fake_clock: FakeClock
) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    a = await service.create(owner, {"name": "a"})
    b = await service.create(owner, {"name": "b"})

    for n in range(3):
        await service.ping(a.token, user_agent=f"old{n}")
    await fake_clock.advance(timedelta(days=2))
    # Pruning everything empties the table, so SQLite hands out the same seqs again.
    assert await service.repo.prune_pings(fake_clock.now()) == 3
    assert await _labels(service, a) == []
    # a's next pings take the seqs of its pruned ones: the first links back to the newest pruned one,
    # which is now a's own latest ping. That link is not followed, so nothing repeats.
    for n in range(3):
        await service.ping(a.token, user_agent=f"again{n}")
    assert await _labels(service, a) == ["again2", "again1", "again0"]
    await fake_clock.advance(timedelta(days=2))
    assert await service.repo.prune_pings(fake_clock.now()) == 3

    # Now b's pings take the seqs a's chain names: a's history does not show them, before or after a pings.
    for n in range(3):
        await service.ping(b.token, user_agent=f"b{n}")
    assert await _labels(service, a) == [] and await _labels(service, b) == ["b2", "b1", "b0"]
    await service.ping(a.token, user_agent="new")
    assert await _labels(service, a) == ["new"] and await service.repo.ping_count(a.id) == 1
    assert await _labels(service, b) == ["b2", "b1", "b0"]


async def test_deleting_a_heartbeat_deletes_its_whole_chain_and_nothing_else(rt: Runtime) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    gone = await service.create(owner, {"name": "gone"})
    kept = await service.create(owner, {"name": "kept"})
    for n in range(12):
        await asyncio.gather(service.ping(gone.token, user_agent=f"g{n}"), service.ping(kept.token, user_agent=f"k{n}"))
    await service.delete(owner, gone.id)
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM heartbeat_pings WHERE heartbeat_id = ?", (gone.id,)) == 0
    assert await _labels(service, kept) == [f"k{n}" for n in reversed(range(12))]

    # In bounded batches: 12 pings, 5 per write.
    newest = await rt.db.fetch_value("SELECT last_ping_seq FROM heartbeats WHERE id = ?", (kept.id,))
    batches = rt.db.batches
    assert await service.repo.delete_pings(kept.id, newest, below=newest + 1, batch=5) == 12
    assert rt.db.batches - batches == 3
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM heartbeat_pings") == 0


async def test_the_cap_trims_each_long_chain_to_its_newest_pings(rt: Runtime) -> None:
    owner = rt.services.accounts.owner_id
    service = rt.services.heartbeats
    busy = await service.create(owner, {"name": "busy"})
    quiet = await service.create(owner, {"name": "quiet"})
    for n in range(9):
        await service.ping(busy.token, user_agent=f"b{n}")
        if n % 4 == 0:
            await service.ping(quiet.token, user_agent=f"q{n}")
    assert await service.repo.trim_pings(keep=4, batch=2) == 5
    assert await _labels(service, busy) == ["b8", "b7", "b6", "b5"]
    assert await _labels(service, quiet) == ["q8", "q4", "q0"]
    assert await service.repo.trim_pings(keep=4) == 0
    # The chain goes on from the kept pings.
    await service.ping(busy.token, user_agent="b9")
    assert await _labels(service, busy, limit=2) == ["b9", "b8"] and await service.repo.ping_count(busy.id) == 5


async def test_the_migration_links_existing_pings_in_received_order(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        for number, _, sql in database._migration_scripts():
            if number < 8:
                conn.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        conn.execute("INSERT INTO accounts (id, kind, created_at) VALUES ('acc', 'owner', 0)")
        for hb in ("a", "b"):
            conn.execute(
                "INSERT INTO heartbeats (id, account_id, face, name, token, interval_secs, grace_secs, state, "
                "created_at, updated_at) VALUES (?, 'acc', 'tickstem', ?, ?, 60, 0, 'up', 0, 0)",
                (hb, hb, hb * 64),
            )
        # Stored out of time order (as bulk-loaded demo data was): history is by time.
        for ping_id, hb, at in [("a2", "a", 20), ("b1", "b", 15), ("a0", "a", 0), ("a1", "a", 10), ("b0", "b", 5)]:
            conn.execute(
                "INSERT INTO heartbeat_pings (id, heartbeat_id, kind, received_at) VALUES (?, ?, 'success', ?)",
                (ping_id, hb, at),
            )
        conn.commit()
    db = await Database.open(path)
    try:
        repo = HeartbeatRepository(db)
        assert [p.id for p in await repo.pings("a", 10)] == ["a2", "a1", "a0"]
        assert [p.id for p in await repo.pings("b", 10)] == ["b1", "b0"]
        assert await repo.ping_count("a") == 3
        newest = await db.fetch_value(
            "SELECT p.id FROM heartbeats AS h JOIN heartbeat_pings AS p ON p.seq = h.last_ping_seq WHERE h.id = 'a'"
        )
        assert newest == "a2"
    finally:
        await db.close()
