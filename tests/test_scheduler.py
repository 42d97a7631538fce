"""The scheduler and executor in fake time over real HTTP: firing, outcomes, retries, pause, restart."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

from tests.conftest import RecordingEndpoint, eventually, make_settings
from tickstem_tui.clock import FakeClock, utc
from tickstem_tui.domain.events import Event, ExecutionFinished, Flipped, WatchdogGap
from tickstem_tui.domain.jobs import ExecutionStatus, JobStatus
from tickstem_tui.domain.times import to_ms
from tickstem_tui.runtime import Runtime


def owner(rt: Runtime) -> str:
    return rt.services.accounts.owner_id


async def register(rt: Runtime, **fields: object) -> str:
    job, _ = await rt.services.jobs.register(owner(rt), fields)
    return job.id


async def test_it_fires_a_due_job_at_its_time(
    fake_runtime: Runtime, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    job_id = await register(fake_runtime, name="m", schedule="* * * * *", endpoint=endpoint.url)
    assert (await fake_runtime.services.jobs.get(owner(fake_runtime), job_id)).next_run_at == utc(2026, 5, 1, 11, 59)

    await fake_clock.advance(29)
    assert endpoint.calls == []
    await fake_clock.advance(1)
    await endpoint.wait_for_calls(1)
    await fake_runtime.executor.wait_idle()
    await fake_runtime.scheduler.wait_idle()

    [run] = await fake_runtime.services.jobs.executions(owner(fake_runtime), job_id, 10, 0)
    assert run.status is ExecutionStatus.SUCCESS and run.status_code == 200
    assert run.scheduled_at == run.triggered_at == utc(2026, 5, 1, 11, 59)
    job = await fake_runtime.services.jobs.get(owner(fake_runtime), job_id)
    assert job.next_run_at == utc(2026, 5, 1, 12, 0) and job.last_run_at == utc(2026, 5, 1, 11, 59)


async def test_many_due_jobs_run_concurrently_within_the_bound(
    tmp_path: Path, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    endpoint.delay = 0.2
    async with Runtime(make_settings(tmp_path, max_concurrent_executions=5), clock=fake_clock) as rt:
        for n in range(20):
            await register(rt, name=f"j{n}", schedule="0 12 * * *", endpoint=endpoint.url)
        await fake_clock.set(utc(2026, 5, 1, 12))
        await endpoint.wait_for_calls(20)
        await rt.executor.wait_idle()
    assert endpoint.max_in_flight == 5


async def test_outcomes_flip_to_failing_after_two_failures_and_back(
    fake_runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    events: list[Event] = []
    fake_runtime.bus.subscribe(events.append)
    jobs = fake_runtime.services.jobs
    job_id = await register(fake_runtime, name="flaky", schedule="0 0 1 1 *", endpoint=endpoint.url)

    async def run_once() -> None:
        await jobs.trigger(owner(fake_runtime), job_id)
        await fake_runtime.executor.wait_idle()

    endpoint.status, endpoint.body = 500, "database is down"
    await run_once()
    assert (await jobs.get(owner(fake_runtime), job_id)).status is JobStatus.ACTIVE
    await run_once()
    job = await jobs.get(owner(fake_runtime), job_id)
    assert job.status is JobStatus.FAILING and job.consecutive_failures == 2
    await run_once()  # still failing: no second flip
    endpoint.status = 200
    await run_once()
    assert (await jobs.get(owner(fake_runtime), job_id)).status is JobStatus.ACTIVE

    runs = await jobs.executions(owner(fake_runtime), job_id, 10, 0)
    assert [r.status for r in runs] == [ExecutionStatus.SUCCESS] + [ExecutionStatus.FAILED] * 3
    assert runs[1].status_code == 500 and runs[1].error == "HTTP 500 response from endpoint: database is down"
    flips = [(e.old_status, e.new_status) for e in events if isinstance(e, Flipped)]
    assert flips == [("active", "failing"), ("failing", "active")]
    rows = await fake_runtime.db.fetch_all("SELECT old_status, new_status FROM flips ORDER BY id")
    assert [tuple(r) for r in rows] == flips
    assert sum(isinstance(e, ExecutionFinished) for e in events) == 4


async def test_no_answer_within_timeout_is_timeout(fake_runtime: Runtime, endpoint: RecordingEndpoint) -> None:
    endpoint.delay = 2.0
    job_id = await register(fake_runtime, name="slow", schedule="@daily", endpoint=endpoint.url, timeout_secs=1)
    await fake_runtime.services.jobs.trigger(owner(fake_runtime), job_id)
    await fake_runtime.executor.wait_idle()
    [run] = await fake_runtime.services.jobs.executions(owner(fake_runtime), job_id, 10, 0)
    assert run.status is ExecutionStatus.TIMEOUT and run.status_code is None
    assert run.error == "no response within 1s" and 900 <= run.duration_ms < 2000


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_network_errors_are_retried_within_one_execution(fake_runtime: Runtime) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    job_id = await register(fake_runtime, name="down", schedule="@daily", endpoint=url, retries=2)
    await fake_runtime.services.jobs.trigger(owner(fake_runtime), job_id)
    await fake_runtime.executor.wait_idle()
    [run] = await fake_runtime.services.jobs.executions(owner(fake_runtime), job_id, 10, 0)
    assert run.status is ExecutionStatus.FAILED and run.status_code is None and run.attempts == 3
    assert run.error.startswith("network error after 3 attempts")


async def test_http_errors_are_not_retried(fake_runtime: Runtime, endpoint: RecordingEndpoint) -> None:
    endpoint.status = 503
    job_id = await register(fake_runtime, name="x", schedule="@daily", endpoint=endpoint.url, retries=3)
    await fake_runtime.services.jobs.trigger(owner(fake_runtime), job_id)
    await fake_runtime.executor.wait_idle()
    assert len(endpoint.calls) == 1


async def test_paused_jobs_do_not_fire_and_resume_continues_from_next_time(
    fake_runtime: Runtime, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    jobs = fake_runtime.services.jobs
    job_id = await register(fake_runtime, name="p", schedule="*/15 * * * *", endpoint=endpoint.url)
    paused = await jobs.pause(owner(fake_runtime), job_id)
    assert paused.next_run_at is None
    await fake_clock.advance(timedelta(hours=1))
    assert endpoint.calls == []
    resumed = await jobs.resume(owner(fake_runtime), job_id)
    assert resumed.next_run_at == utc(2026, 5, 1, 13, 0)
    await fake_clock.set(utc(2026, 5, 1, 13))
    await endpoint.wait_for_calls(1)


async def test_pausing_during_a_run_keeps_it_paused(fake_runtime: Runtime, endpoint: RecordingEndpoint) -> None:
    endpoint.delay, endpoint.status = 0.3, 500
    jobs = fake_runtime.services.jobs
    job_id = await register(fake_runtime, name="r", schedule="@daily", endpoint=endpoint.url)
    for _ in range(2):
        await jobs.trigger(owner(fake_runtime), job_id)
        await jobs.pause(owner(fake_runtime), job_id)
        await fake_runtime.executor.wait_idle()
    job = await jobs.get(owner(fake_runtime), job_id)
    assert job.status is JobStatus.PAUSED and job.consecutive_failures == 2
    assert [r.status for r in await jobs.executions(owner(fake_runtime), job_id, 5, 0)] == [ExecutionStatus.FAILED] * 2


async def test_restart_keeps_jobs_and_history_and_does_not_replay_missed_runs(
    tmp_path: Path, endpoint: RecordingEndpoint
) -> None:
    settings = make_settings(tmp_path)
    clock = FakeClock(utc(2026, 5, 1, 11, 58))
    async with Runtime(settings, clock=clock) as rt:
        job_id = await register(rt, name="q", schedule="*/15 * * * *", endpoint=endpoint.url)
        await clock.set(utc(2026, 5, 1, 12))
        await endpoint.wait_for_calls(1)
        await rt.executor.wait_idle()
        await rt.scheduler.wait_idle()

    later = FakeClock(utc(2026, 5, 1, 13, 10))
    async with Runtime(settings, clock=later) as rt:
        job = await rt.services.jobs.get(owner(rt), job_id)
        assert job.next_run_at == utc(2026, 5, 1, 13, 15)
        runs = await rt.services.jobs.executions(owner(rt), job_id, 10, 0)
        assert [r.status for r in runs] == [ExecutionStatus.MISSED, ExecutionStatus.SUCCESS]
        missed = runs[0]
        assert missed.scheduled_at == utc(2026, 5, 1, 12, 15) and missed.triggered_at == utc(2026, 5, 1, 13)
        assert missed.error.startswith("4 scheduled runs missed while tickstem-tui was not running")
        await later.set(utc(2026, 5, 1, 13, 14, 59))
        assert len(endpoint.calls) == 1  # nothing replayed
        await later.set(utc(2026, 5, 1, 13, 15))
        await endpoint.wait_for_calls(2)
        await rt.executor.wait_idle()


async def test_editing_the_schedule_replans(
    fake_runtime: Runtime, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    jobs = fake_runtime.services.jobs
    job_id = await register(fake_runtime, name="e", schedule="0 * * * *", endpoint=endpoint.url)
    await jobs.update(owner(fake_runtime), job_id, {"schedule": "59 11 * * *"})
    await fake_clock.set(utc(2026, 5, 1, 11, 59))
    await endpoint.wait_for_calls(1)
    await jobs.delete(owner(fake_runtime), job_id)
    await fake_clock.set(utc(2026, 5, 2, 12))
    assert len(endpoint.calls) == 1


async def test_headers_are_sent_and_unicode_names_travel_encoded(
    fake_runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    job_id = await register(
        fake_runtime,
        name="nächtlich",
        schedule="@daily",
        endpoint=endpoint.url,
        headers={"X-Tickstem-Secret": "s3cret"},
        method="GET",
    )
    await fake_runtime.services.jobs.trigger(owner(fake_runtime), job_id)
    [call] = await endpoint.wait_for_calls(1)
    assert call.method == "GET" and call.headers["X-Tickstem-Secret"] == "s3cret"
    assert call.headers["X-Tickstem-Job-Name"] == "n%C3%A4chtlich"
    await eventually(lambda: _finished(fake_runtime, job_id))


async def _finished(rt: Runtime, job_id: str) -> bool:
    runs = await rt.services.jobs.executions(owner(rt), job_id, 1, 0)
    return bool(runs) and runs[0].finished_at is not None


async def test_retention_prunes_old_executions(
    fake_runtime: Runtime, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    jobs = fake_runtime.services.jobs
    job_id = await register(fake_runtime, name="old", schedule="@yearly", endpoint=endpoint.url)
    await jobs.trigger(owner(fake_runtime), job_id)
    await fake_runtime.executor.wait_idle()
    await fake_clock.advance(timedelta(days=89))
    await jobs.trigger(owner(fake_runtime), job_id)
    await fake_runtime.executor.wait_idle()
    await fake_clock.advance(timedelta(days=2))
    assert (await fake_runtime.retention.prune_once())["executions"] == 1
    assert len(await jobs.executions(owner(fake_runtime), job_id, 10, 0)) == 1


async def test_registering_a_job_again_unchanged_writes_nothing(
    fake_runtime: Runtime, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    jobs = fake_runtime.services.jobs
    owner = fake_runtime.services.accounts.owner_id
    body = {"name": "deploy-hook", "schedule": "*/5 * * * *", "endpoint": endpoint.url, "description": "v1"}
    first, created = await jobs.register(owner, body)
    assert created
    paused = await jobs.pause(owner, first.id)
    events: list[Event] = []
    # The heartbeat watchdog may report the fake clock's three-minute jump as a suspend; only job news counts.
    fake_runtime.bus.subscribe(lambda event: None if isinstance(event, WatchdogGap) else events.append(event))
    await fake_clock.advance(timedelta(minutes=3))

    # What every deploy sends: the same job, spelled a little differently (padding, a descriptor-free
    # schedule with extra spaces, the method's default named). Nothing changes, nothing is written.
    again, created = await jobs.register(
        owner, {**body, "name": " deploy-hook ", "schedule": "*/5  *  * * *", "method": "post"}
    )
    assert not created and again == paused and again.updated_at == first.updated_at
    assert events == []
    stored = await jobs.get(owner, first.id)
    assert stored.updated_at == first.updated_at and stored.status is JobStatus.PAUSED

    # A real change is written, stamped, announced, and keeps the job paused.
    changed, created = await jobs.register(owner, {**body, "description": "v2"})
    assert not created and changed.id == first.id and changed.spec.description == "v2"
    assert changed.updated_at == fake_clock.now() and changed.status is JobStatus.PAUSED
    assert [type(e).__name__ for e in events] == ["JobChanged"]
    assert (await jobs.get(owner, first.id)) == changed


async def test_an_edit_keeps_the_stored_next_run_only_while_it_still_holds(
    fake_runtime: Runtime, fake_clock: FakeClock, endpoint: RecordingEndpoint
) -> None:
    jobs = fake_runtime.services.jobs
    owner = fake_runtime.services.accounts.owner_id
    body = {"name": "five", "schedule": "*/5 * * * *", "endpoint": endpoint.url}
    job, _ = await jobs.register(owner, body)
    assert job.next_run_at == utc(2026, 5, 1, 12, 0)
    await fake_clock.advance(timedelta(seconds=20))
    edited, _ = await jobs.register(owner, {**body, "description": "kept plan"})
    assert edited.next_run_at == utc(2026, 5, 1, 12, 0) and edited.updated_at == fake_clock.now()

    # A stored plan that no longer holds (already past) is computed afresh, never carried over.
    await fake_runtime.db.execute("UPDATE jobs SET next_run_at = ? WHERE id = ?", (to_ms(utc(2026, 5, 1, 11)), job.id))
    fresh, _ = await jobs.register(owner, {**body, "description": "stale plan"})
    assert fresh.next_run_at == utc(2026, 5, 1, 12, 0)
    moved, _ = await jobs.register(owner, {**body, "schedule": "7 * * * *"})
    assert moved.next_run_at == utc(2026, 5, 1, 12, 7)
    assert fake_runtime.scheduler.next_run(job.id) == utc(2026, 5, 1, 12, 7)
    paused = await jobs.pause(owner, job.id)
    assert paused.next_run_at is None
    resumed = await jobs.update(owner, job.id, {"status": "active", "description": "resumed"})
    assert resumed.next_run_at == utc(2026, 5, 1, 12, 7)
