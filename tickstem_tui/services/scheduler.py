"""The cron loop: sleeps until the earliest due job, fires everything due, never replays missed runs."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache

import aiosqlite

from tickstem_tui import heap
from tickstem_tui.clock import Clock, sleep_until_or
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.jobs import Execution, ExecutionStatus, Job, JobStatus
from tickstem_tui.domain.schedule import Schedule
from tickstem_tui.domain.times import rfc3339
from tickstem_tui.services.executor import Executor
from tickstem_tui.services.plan import DuePlan
from tickstem_tui.store.database import Database
from tickstem_tui.store.jobs import JobRepository, insert_execution

log = logging.getLogger(__name__)

MISSED_COUNT_LIMIT = 100_000
"""Counting missed runs of an every-minute job over a long outage stays bounded."""
STARTUP_GRACE = timedelta(seconds=1)
"""A run due within this much of start-up is fired, not reported missed."""
PLAN_SLICE = 256
"""Next runs computed between two yields to the event loop after a burst of due jobs."""
BURST = 64
"""More runs than this due at once are a burst: their calls go out before their next runs are computed."""
PLAN_DEFER_SECS = 10.0
"""Longest a burst's next runs wait for its calls (and never past the second before the next minute)."""


@lru_cache(maxsize=4096)
def schedule_for(expression: str) -> Schedule:
    return Schedule(expression)


def next_fire(job: Job, now: datetime) -> datetime | None:
    """When a job fires next, strictly after `now`; None while paused."""
    if job.status is JobStatus.PAUSED:
        return None
    return schedule_for(job.spec.schedule).next_after(now)


class Scheduler:
    def __init__(self, db: Database, jobs: JobRepository, executor: Executor, clock: Clock) -> None:
        self._db = db
        self._jobs = jobs
        self._executor = executor
        self._clock = clock
        self._plan: DuePlan[Job] = DuePlan()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.lateness_ms: list[float] = []
        """Actual fire time minus scheduled time, per fired run (read by benchmarks; trimmed)."""

    # -- keeping the plan in step with the store ------------------------------------------------
    def track(self, job: Job) -> None:
        """Follow a job after a change: its stored `next_run_at` is its next fire (None while paused)."""
        self._plan.discard(job.id)
        if job.next_run_at is None:
            self._wake.set()
            return
        self._push(job, job.next_run_at)

    def forget(self, job_id: str) -> None:
        self._plan.discard(job_id)
        self._wake.set()

    def next_run(self, job_id: str) -> datetime | None:
        planned = self._plan.get(job_id)
        return None if planned is None else planned[0]

    def _push(self, job: Job, due: datetime) -> None:
        # replace() only when the plan differs: it costs ~10 us, a tenth of a second at a 10,000-job start-up.
        if self._plan.put(job.id, due, job if job.next_run_at == due else replace(job, next_run_at=due)):
            self._wake.set()

    async def load(self) -> None:
        """Plan every job from the store; runs that fell due while stopped are recorded as missed.

        A stored next run still ahead is kept as it is: it was computed from the same schedule at an earlier
        moment with no fire time in between, so parsing 10,000 schedules again at every start-up (~50 us
        each with cronsim) buys nothing. Only past or missing plans are computed, unless the clock is now
        behind a time the store already recorded (set back): then every plan is computed afresh.
        """
        now = self._clock.now()
        jobs = await self._jobs.all_jobs()
        recorded = [moment for job in jobs for moment in (job.updated_at, job.last_run_at) if moment is not None]
        clock_went_back = bool(recorded) and max(recorded) > now
        if clock_went_back:
            log.warning("the clock is behind times already stored; planning every job's next run afresh")
        missed: list[Execution] = []
        next_runs: list[tuple[str, datetime | None]] = []
        for job in jobs:
            stored = job.next_run_at
            if job.status is not JobStatus.PAUSED and stored is not None and not clock_went_back:
                if stored > now - STARTUP_GRACE:
                    self.track(job)  # still ahead (or due this very moment: fired, not reported missed)
                    continue
                gap = self._missed_runs(job, now)
                if gap is not None:
                    missed.append(gap)
            planned = next_fire(job, now)
            self.track(replace(job, next_run_at=planned))
            if planned != stored:
                next_runs.append((job.id, planned))

        async def record(conn: aiosqlite.Connection) -> None:
            for execution in missed:
                await insert_execution(conn, execution)

        if missed:
            await self._db.write(record)
            log.info("%d job(s) missed runs while stopped; recorded, not replayed", len(missed))
        if next_runs:
            await self._jobs.set_next_runs(next_runs)

    def _missed_runs(self, job: Job, now: datetime) -> Execution | None:
        assert job.next_run_at is not None
        if job.next_run_at > now - STARTUP_GRACE:
            return None
        start = job.next_run_at
        if job.last_run_at is not None:
            # A run that fired (its next run not yet stored when the process stopped) was not missed:
            # count from the minute after the last run.
            start = max(start, job.last_run_at.replace(second=0, microsecond=0) + timedelta(minutes=1))
        times = list(schedule_for(job.spec.schedule).fire_times_between(start, now - STARTUP_GRACE, MISSED_COUNT_LIMIT))
        if not times:
            return None
        first, last = times[0], times[-1]
        count = f"{len(times)}{'+' if len(times) == MISSED_COUNT_LIMIT else ''}"
        runs = "run" if len(times) == 1 else "runs"
        span = rfc3339(first) if first == last else f"{rfc3339(first)} to {rfc3339(last)}"
        return Execution(
            id=new_id("exec"),
            job_id=job.id,
            status=ExecutionStatus.MISSED,
            status_code=None,
            duration_ms=0,
            error=f"{count} scheduled {runs} missed while tickstem-tui was not running ({span}); not replayed",
            scheduled_at=first,
            triggered_at=last,
            started_at=None,
            finished_at=None,
            attempts=0,
            manual=False,
        )

    # -- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            self._wake.clear()
            due = self._plan.earliest()
            if due is None:
                await self._wake.wait()
                continue
            if due > self._clock.now():
                await sleep_until_or(self._clock, due, self._wake)
                continue
            self._idle.clear()
            try:
                await self._fire_due()
            finally:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until a round of due runs is recorded and the next runs are stored (tests, benchmarks).

        A run's call may finish before its round is done: calls go out while the records commit.
        """
        await self._idle.wait()

    async def _fire_due(self) -> None:
        now = self._clock.now()
        with heap.collection_paused():
            taken = self._plan.pop_due(now)
            fired = [(job, due) for _, due, job, _ in taken]
            versions = [token for _, _, _, token in taken]
        if len(self.lateness_ms) > 100_000:
            del self.lateness_ms[:50_000]
        self.lateness_ms.extend((now - due).total_seconds() * 1000 for _, due in fired)
        try:
            # Every fired run's execution row in one commit, whatever the count; their calls go out meanwhile.
            await self._executor.start_executions(fired, manual=False)
        except Exception:
            log.exception("could not record %d due run(s)", len(fired))
        if len(fired) > BURST:
            # Computing 10,000 next runs (~50 us each) would compete with the calls for the one core. No
            # next run falls before the coming minute, so the calls go first, within that bound.
            minute_left = (now.replace(second=0, microsecond=0) + timedelta(minutes=1) - now).total_seconds()
            await self._executor.wait_calls(min(PLAN_DEFER_SECS, minute_left - 1))
        await self._plan_next(fired, versions, now)

    async def _plan_next(self, fired: list[tuple[Job, datetime]], versions: list[int], now: datetime) -> None:
        """Next runs of the jobs just fired, strictly after `now`: after a suspend or a stall one run fires, not a
        burst. Computed after the runs are launched, in slices, because each costs ~50 us (10,000 due at once
        would hold the loop for half a second); jobs sharing a schedule share one computation."""
        plan: list[tuple[str, datetime, str]] = []
        known: dict[str, datetime] = {}
        for count, ((job, _), version) in enumerate(zip(fired, versions, strict=True), start=1):
            if self._plan.token(job.id) != version:
                continue  # changed or deleted meanwhile: track()/forget() already planned it
            expression = job.spec.schedule
            following = known.get(expression)
            if following is None:
                following = known[expression] = schedule_for(expression).next_after(now)
            self._push(job, following)
            plan.append((job.id, following, expression))
            if count % PLAN_SLICE == 0:
                await asyncio.sleep(0)
        if plan:
            # Guarded: an edit committed while this plan was computed keeps the edit's own plan.
            await self._jobs.set_planned_runs(plan)
