"""Behaviour kept by the benchmark-driven fast paths: one-hop reads, batched firing, trusted plans, lean encodings."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import API_KEY, RecordingEndpoint, eventually, make_settings
from tickstem_tui.api.http import json_response
from tickstem_tui.clock import FakeClock, utc
from tickstem_tui.domain.heartbeats import Face, HeartbeatSpec, PingKind
from tickstem_tui.domain.jobs import ExecutionStatus
from tickstem_tui.domain.monitors import Monitor, MonitorSpec, MonitorStatus
from tickstem_tui.domain.times import from_ms, rfc3339, to_ms
from tickstem_tui.runtime import Runtime
from tickstem_tui.services import scheduler as scheduler_module
from tickstem_tui.services.scheduler import BURST, PLAN_SLICE
from tickstem_tui.store.database import Database, Versioned, update_changed_at_version


def owner(rt: Runtime) -> str:
    return rt.services.accounts.owner_id


async def elsewhere(rt: Runtime, statement: str) -> list[Any]:
    """One statement on another connection to the runtime's database, off the loop (its writer runs there)."""

    def run() -> list[Any]:
        with closing(sqlite3.connect(rt.settings.db_path, isolation_level=None)) as conn:
            return conn.execute(statement).fetchall()

    return await asyncio.to_thread(run)


async def register(rt: Runtime, **fields: object) -> str:
    job, _ = await rt.services.jobs.register(owner(rt), fields)
    return job.id


# -- store ---------------------------------------------------------------------------------------------
async def test_reads_return_rows_and_never_hold_a_snapshot(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "reads.sqlite3")
    try:
        await db.execute("CREATE TABLE t (n INTEGER)")
        await db.execute_many("INSERT INTO t (n) VALUES (?)", [(n,) for n in range(5)])
        first = await db.fetch_one("SELECT n FROM t ORDER BY n")
        assert first is not None and first["n"] == 0
        assert [row["n"] for row in await db.fetch_all("SELECT n FROM t ORDER BY n DESC")] == [4, 3, 2, 1, 0]
        assert await db.fetch_value("SELECT COUNT(*) FROM t") == 5
        assert await db.fetch_one("SELECT n FROM t WHERE n > 99") is None
        # The multi-row fetch_one above left no open statement behind: a later write is visible at once.
        await db.execute("DELETE FROM t WHERE n < 4")
        assert await db.fetch_value("SELECT COUNT(*) FROM t") == 1
        with pytest.raises(sqlite3.OperationalError):
            await db.fetch_all("SELECT nope FROM t")
    finally:
        await db.close()


# -- scheduler and executor ------------------------------------------------------------------------------
async def test_a_burst_of_due_jobs_fires_once_each_and_is_replanned(
    tmp_path: Path, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    count = PLAN_SLICE * 2 + 10  # more than one planning slice
    async with Runtime(make_settings(tmp_path), clock=fake_clock) as rt:
        # Different expressions for the same daily 12:00, then many jobs sharing one.
        daily = ("0 12 * 1-12 *", "0 12 1-31 * *", "0 12 * * 0-6")
        ids = [await register(rt, name=f"b{n}", schedule=expr, endpoint=endpoint.url) for n, expr in enumerate(daily)]
        ids += [await register(rt, name=f"j{n}", schedule="0 12 * * *", endpoint=endpoint.url) for n in range(count)]
        await fake_clock.set(utc(2026, 5, 1, 12))
        await endpoint.wait_for_calls(len(ids), timeout=30)
        await rt.executor.wait_idle()
        await rt.scheduler.wait_idle()
        assert len(rt.scheduler.lateness_ms) == len(ids)
        for job_id in (ids[0], ids[3], ids[-1]):
            job = await rt.services.jobs.get(owner(rt), job_id)
            assert job.next_run_at == utc(2026, 5, 2, 12) and job.last_run_at == utc(2026, 5, 1, 12)
            assert rt.scheduler.next_run(job_id) == utc(2026, 5, 2, 12)
            [run] = await rt.services.jobs.executions(owner(rt), job_id, 5, 0)
            assert run.status is ExecutionStatus.SUCCESS and run.scheduled_at == utc(2026, 5, 1, 12)
        await fake_clock.set(utc(2026, 5, 1, 23, 59))
        assert len(endpoint.calls) == len(ids)  # nothing fired twice


async def test_a_burst_is_replanned_after_its_calls_and_never_later_than_the_bound(
    tmp_path: Path, fake_clock: FakeClock, endpoint: RecordingEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler_module, "PLAN_DEFER_SECS", 0.3)
    endpoint.delay = 4.0  # every call hangs until its 3 s timeout: the plan must not wait past the bound
    async with Runtime(make_settings(tmp_path), clock=fake_clock) as rt:
        ids = [
            await register(rt, name=f"h{n}", schedule="0 12 * * *", endpoint=endpoint.url, timeout_secs=3)
            for n in range(BURST + 1)
        ]
        await fake_clock.set(utc(2026, 5, 1, 12))

        async def all_calls_arrived() -> bool:
            return endpoint.in_flight == len(ids)

        await eventually(all_calls_arrived)
        await asyncio.wait_for(rt.scheduler.wait_idle(), timeout=10)
        assert rt.executor.in_flight == len(ids), "the calls still hang; the next runs are planned all the same"
        assert all(rt.scheduler.next_run(job_id) == utc(2026, 5, 2, 12) for job_id in ids)
        stored = await rt.db.fetch_all("SELECT DISTINCT next_run_at FROM jobs")
        assert [from_ms(row[0]) for row in stored] == [utc(2026, 5, 2, 12)]
        await rt.executor.wait_idle()


async def test_calls_go_out_while_their_records_commit_and_finishes_land_after_starts(
    runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    ids = [await register(runtime, name=f"r{n}", schedule="@yearly", endpoint=endpoint.url) for n in range(40)]
    jobs = [await runtime.services.jobs.get(owner(runtime), job_id) for job_id in ids]
    other = sqlite3.connect(runtime.db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the store is busy elsewhere: the records cannot commit yet
    try:
        started = asyncio.ensure_future(
            runtime.executor.start_executions([(job, runtime.clock.now()) for job in jobs], manual=True)
        )
        await endpoint.wait_for_calls(40)  # every call went out without waiting for its record
        assert not started.done()
    finally:
        other.execute("COMMIT")
        other.close()
    executions = await started
    await runtime.executor.wait_idle()
    for job_id, execution in zip(ids, executions, strict=True):
        [run] = await runtime.services.jobs.executions(owner(runtime), job_id, 5, 0)
        # The finish was written after the start, never lost to a row that did not exist yet.
        assert (
            run.id == execution.execution_id and run.status is ExecutionStatus.SUCCESS and run.finished_at is not None
        )


async def test_start_up_keeps_a_stored_plan_that_is_still_ahead(tmp_path: Path, endpoint: RecordingEndpoint) -> None:
    settings = make_settings(tmp_path)
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1, 11, 58))) as rt:
        job_id = await register(rt, name="h", schedule="0 * * * *", endpoint=endpoint.url)
        # A plan that is not what the schedule alone would give proves the stored one is used as it is.
        await rt.db.execute("UPDATE jobs SET next_run_at = ? WHERE id = ?", (to_ms(utc(2026, 5, 1, 12, 30)), job_id))

    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1, 11, 59))) as rt:
        assert rt.scheduler.next_run(job_id) == utc(2026, 5, 1, 12, 30)

    # The clock set back behind a stored time: every plan is computed afresh from the schedule.
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1, 9, 10))) as rt:
        assert rt.scheduler.next_run(job_id) == utc(2026, 5, 1, 10)
        assert (await rt.services.jobs.get(owner(rt), job_id)).next_run_at == utc(2026, 5, 1, 10)


async def test_a_run_that_fired_before_its_next_plan_was_stored_is_not_reported_missed(
    tmp_path: Path, endpoint: RecordingEndpoint
) -> None:
    settings = make_settings(tmp_path)
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1, 11, 50))) as rt:
        job_id = await register(rt, name="q", schedule="*/15 * * * *", endpoint=endpoint.url)
        # As if the process died between recording the 12:00 run and storing its next plan.
        await rt.db.execute(
            "UPDATE jobs SET next_run_at = ?, last_run_at = ? WHERE id = ?",
            (to_ms(utc(2026, 5, 1, 12)), to_ms(utc(2026, 5, 1, 12, 0, 0) + timedelta(milliseconds=200)), job_id),
        )

    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1, 13, 10))) as rt:
        [missed] = await rt.services.jobs.executions(owner(rt), job_id, 10, 0)
        assert missed.status is ExecutionStatus.MISSED and missed.scheduled_at == utc(2026, 5, 1, 12, 15)
        assert missed.error.startswith("4 scheduled runs missed")
        assert rt.scheduler.next_run(job_id) == utc(2026, 5, 1, 13, 15)


# -- poller ------------------------------------------------------------------------------------------------
async def test_a_real_time_check_times_out_on_its_own_timeout(runtime: Runtime, endpoint: RecordingEndpoint) -> None:
    endpoint.delay = 3.0
    now = runtime.clock.now()
    monitor = Monitor(
        "mon_slow", owner(runtime), MonitorSpec("slow", endpoint.url, 30, 1), MonitorStatus.ACTIVE, 0, None, None,
        None, None, now, now,
    )  # fmt: skip
    check = await runtime.poller.probe(monitor)
    assert check.status.value == "timeout" and check.error == "no response within 1s"
    assert 900 <= check.duration_ms < 2500


# -- encodings -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (utc(2026, 5, 1), "2026-05-01T00:00:00Z"),
        (utc(2026, 5, 1, 12, 30, 5) + timedelta(milliseconds=7), "2026-05-01T12:30:05.007Z"),
        (utc(2026, 5, 1) + timedelta(microseconds=999), "2026-05-01T00:00:00.000Z"),
        (utc(2026, 5, 1) + timedelta(microseconds=123_999), "2026-05-01T00:00:00.123Z"),
        (datetime(2026, 5, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))), "2026-05-01T00:00:00Z"),
        (datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), "2026-12-31T23:59:59.999Z"),
        (None, None),
    ],
)
def test_rfc3339_is_utc_with_milliseconds_only_when_there_are_any(moment: datetime | None, text: str | None) -> None:
    assert rfc3339(moment) == text


def test_rfc3339_round_trips_stored_milliseconds() -> None:
    for ms in (0, 1, 999, 1_000, 1_777_777_777_123, 1_777_777_777_000):
        text = rfc3339(from_ms(ms))
        assert text is not None and datetime.fromisoformat(text.replace("Z", "+00:00")) == from_ms(ms)


def test_json_answers_are_compact_utf8_and_never_invalid() -> None:
    response = json_response({"name": "nächtlich ✓", "n": 1, "ratio": float("nan"), 3: [True, None]}, status=201)
    assert response.status == 201
    assert response.content_type == "application/json" and response.charset == "utf-8"
    assert response.body == '{"name":"nächtlich ✓","n":1,"ratio":null,"3":[true,null]}'.encode()


async def test_a_plan_computed_before_an_edit_never_overwrites_the_edit(
    fake_runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    jobs = fake_runtime.services.jobs
    edited = await register(fake_runtime, name="edited", schedule="0 * * * *", endpoint=endpoint.url)
    paused = await register(fake_runtime, name="paused", schedule="0 * * * *", endpoint=endpoint.url)
    kept = await register(fake_runtime, name="kept", schedule="0 * * * *", endpoint=endpoint.url)
    await jobs.update(owner(fake_runtime), edited, {"schedule": "30 * * * *"})
    await jobs.pause(owner(fake_runtime), paused)
    stale = utc(2026, 5, 1, 13)
    await jobs.repo.set_planned_runs([(job_id, stale, "0 * * * *") for job_id in (edited, paused, kept)])
    assert (await jobs.get(owner(fake_runtime), edited)).next_run_at == utc(2026, 5, 1, 12, 30)
    assert (await jobs.get(owner(fake_runtime), paused)).next_run_at is None
    assert (await jobs.get(owner(fake_runtime), kept)).next_run_at == stale


async def test_an_edit_writes_only_the_columns_it_changes_and_all_of_them(
    runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    jobs = runtime.services.jobs
    job_id = await register(runtime, name="nightly", schedule="0 3 * * *", endpoint=endpoint.url)

    # Counts every write that assigns the row's identity columns (the full upsert assigns them all).
    await elsewhere(runtime, "CREATE TABLE identity_writes (n INTEGER)")
    await elsewhere(
        runtime,
        "CREATE TRIGGER count_identity AFTER UPDATE OF name, account_id ON jobs "
        "BEGIN INSERT INTO identity_writes VALUES (1); END",
    )
    identity_writes = "SELECT COUNT(*) FROM identity_writes"
    await jobs.register(owner(runtime), {"name": "nightly", "description": "d2", "headers": {"X-A": "1"}})
    await jobs.update(owner(runtime), job_id, {"schedule": "15 4 * * *", "timeout_secs": 7, "status": "paused"})
    assert await elsewhere(runtime, identity_writes) == [(0,)]
    await jobs.update(owner(runtime), job_id, {"name": "nightly-renamed"})
    assert await elsewhere(runtime, identity_writes) == [(1,)]
    stored = await jobs.get(owner(runtime), job_id)
    assert stored.spec.name == "nightly-renamed" and stored.spec.description == "d2"
    assert stored.spec.headers == {"X-A": "1"} and stored.spec.schedule == "15 4 * * *"
    assert stored.spec.timeout_secs == 7 and stored.status.value == "paused" and stored.next_run_at is None


async def test_a_ping_writes_only_the_heartbeat_columns_it_changes(runtime: Runtime) -> None:
    heartbeats = runtime.services.heartbeats
    beat = await heartbeats.create_from_spec(owner(runtime), HeartbeatSpec(name="backup"), face=Face.CRONSAFE)
    assert beat.slug is not None

    await elsewhere(runtime, "CREATE TABLE verdict_writes (n INTEGER)")
    await elsewhere(
        runtime,
        "CREATE TRIGGER count_verdicts AFTER UPDATE OF state, last_failure_output ON heartbeats "
        "BEGIN INSERT INTO verdict_writes VALUES (1); END",
    )
    verdict_writes = "SELECT COUNT(*) FROM verdict_writes"
    await heartbeats.ping_slug(beat.slug)  # new → up
    assert await elsewhere(runtime, verdict_writes) == [(1,)]
    for _ in range(3):  # up stays up: only the ping time and the deadline are written
        await heartbeats.ping_slug(beat.slug)
    assert await elsewhere(runtime, verdict_writes) == [(1,)]
    await heartbeats.ping_slug(beat.slug, kind=PingKind.FAIL, output="disk full")
    assert await elsewhere(runtime, verdict_writes) == [(2,)]
    [(state, output, last_ping_at, version)] = await elsewhere(
        runtime, f"SELECT state, last_failure_output, last_ping_at, version FROM heartbeats WHERE id = '{beat.id}'"
    )
    stored = await heartbeats.get(owner(runtime), beat.id)
    assert (state, output) == ("down", "disk full") and version == 5  # one raise per ping
    assert stored.last_ping_at is not None and last_ping_at == to_ms(stored.last_ping_at)


def test_a_compare_and_set_of_changed_columns_names_only_them_and_proves_the_version(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Row:
        id: str
        count: int
        seen_at: datetime | None

    statements: list[str] = []
    columns = (("count", None), ("seen_at", to_ms))
    with closing(sqlite3.connect(tmp_path / "cas.sqlite3", isolation_level=None)) as conn:
        conn.execute("CREATE TABLE rows (id TEXT PRIMARY KEY, count INTEGER, seen_at INTEGER, version INTEGER)")
        conn.execute("INSERT INTO rows VALUES ('r', 1, NULL, 0)")
        conn.set_trace_callback(statements.append)
        first = Versioned(Row("r", 1, None), 0)
        moment = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        assert update_changed_at_version(conn, "rows", columns, Row("r", 1, moment), first)
        assert statements[-1].startswith("UPDATE rows SET seen_at = ") and "count" not in statements[-1]
        assert not update_changed_at_version(conn, "rows", columns, Row("r", 2, moment), first)  # stale version
        assert update_changed_at_version(conn, "rows", columns, Row("r", 1, moment), Versioned(Row("r", 1, moment), 1))
        assert statements[-1].startswith("UPDATE rows SET version = version + 1")  # nothing changed: still proven
        assert conn.execute("SELECT count, seen_at, version FROM rows").fetchall() == [(1, to_ms(moment), 2)]


# -- answers kept until the data changes, reads on the loop's thread ------------------------------------
async def test_cached_job_answers_follow_every_change_wherever_it_is_committed(
    runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with aiohttp.ClientSession(runtime.base_url, headers=auth) as http:

        async def listed() -> dict[str, dict[str, Any]]:
            async with http.get("/v1/jobs") as response:
                assert response.status == 200
                return {job["name"]: job for job in (await response.json())["jobs"]}

        job_id = await register(runtime, name="a", schedule="@yearly", endpoint=endpoint.url)
        assert list(await listed()) == ["a"]
        assert await listed() == await listed()  # served again while nothing changed
        await register(runtime, name="b", schedule="@yearly", endpoint=endpoint.url)
        assert sorted(await listed()) == ["a", "b"]

        # A run started by the scheduler's executor (not the jobs API) shows in last_run_at.
        await runtime.services.jobs.trigger(owner(runtime), job_id)
        await endpoint.wait_for_calls(1)
        await runtime.executor.wait_idle()
        assert (await listed())["a"]["last_run_at"] is not None

        # Another process writing to the same file (a second tickstem-tui, a sqlite3 shell).
        def rename_elsewhere() -> None:
            with closing(sqlite3.connect(runtime.db.path)) as other, other:
                other.execute("UPDATE jobs SET description = 'from elsewhere' WHERE id = ?", (job_id,))

        async def fetched() -> tuple[int, dict[str, Any]]:
            async with http.get(f"/v1/jobs/{job_id}") as response:
                return response.status, await response.json()

        assert (await fetched())[1]["description"] == ""
        assert await fetched() == await fetched()
        await asyncio.to_thread(rename_elsewhere)
        assert (await listed())["a"]["description"] == "from elsewhere"
        assert (await fetched())[1]["description"] == "from elsewhere"

        # Each account has its own answer; a 404 is never kept.
        async with http.get("/v1/jobs", headers={"Authorization": "Bearer nobody"}) as response:
            assert response.status == 401
        await runtime.services.jobs.delete(owner(runtime), job_id)
        assert await fetched() == (404, {"error": "job not found"})


async def test_quick_reads_see_each_commit_at_once(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "quick-reads.sqlite3")
    try:
        await db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, v TEXT)")
        version = db.data_version()
        for n in range(5):
            await db.write_sync(lambda conn, n=n: conn.execute("INSERT INTO t VALUES (?, ?)", (n, str(n))).close())
            row = await db.fetch_one("SELECT v FROM t WHERE n = ?", (n,), quick=True)
            assert row is not None and row["v"] == str(n)
            assert db.data_version() != version
            version = db.data_version()
        assert db.data_version() == version  # nothing committed, nothing changed
        assert await db.fetch_value("SELECT COUNT(*) FROM t", quick=True) == 5
        with pytest.raises(sqlite3.OperationalError):  # the loop's connection never writes
            await db.fetch_one("DELETE FROM t", quick=True)
    finally:
        await db.close()
