"""Fires a job's HTTP request and records the execution: status, code, duration, error, retries."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple
from urllib.parse import quote

import aiohttp

from tickstem_tui import __version__, heap
from tickstem_tui.clock import Clock
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import ExecutionFinished, ExecutionStarted, Flipped
from tickstem_tui.domain.ids import new_ids
from tickstem_tui.domain.jobs import Execution, ExecutionStatus, Job, JobStatus, status_after_run
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.flips import record_flip_sync
from tickstem_tui.store.database import Database
from tickstem_tui.store.jobs import (
    finish_execution_sync,
    insert_started_runs_sync,
    job_health_sync,
    set_job_health_sync,
    set_last_runs_sync,
    started_run_row,
)

log = logging.getLogger(__name__)

BODY_EXCERPT_BYTES = 300
"""How much of a failed response's body goes into the execution's error, to help diagnose it."""
MAX_BACKOFF_SECS = 30.0
QUICK_RUNS = 8
"""Up to this many runs started together are recorded on the loop's thread (see Database.write_sync)."""
SHUTDOWN_ERROR = "cancelled: server shutting down"


def _header_value(text: str) -> str:
    # HTTP header values must be Latin-1; a Unicode job name travels percent-encoded.
    return text if text.isascii() else quote(text, safe=" -_.~")


class StartedRun(NamedTuple):
    """A run recorded as running whose call may still wait for a worker (a tuple: 10,000 are made at once)."""

    job: Job
    execution_id: str
    scheduled_at: datetime
    triggered_at: datetime
    started_at: datetime
    manual: bool

    def row(self) -> tuple[object, ...]:
        return started_run_row(
            self.execution_id, self.job.id, self.scheduled_at, self.triggered_at, self.started_at, self.manual
        )

    def execution(self) -> Execution:
        return Execution(
            id=self.execution_id,
            job_id=self.job.id,
            status=ExecutionStatus.RUNNING,
            status_code=None,
            duration_ms=0,
            error="",
            scheduled_at=self.scheduled_at,
            triggered_at=self.triggered_at,
            started_at=self.started_at,
            finished_at=None,
            attempts=0,
            manual=self.manual,
        )


class Executor:
    """Runs executions concurrently, bounded by a semaphore, over one shared HTTP session."""

    def __init__(
        self,
        db: Database,
        session: aiohttp.ClientSession,
        bus: EventBus,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._db = db
        self._session = session
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._max_workers = settings.max_concurrent_executions
        self._waiting: deque[StartedRun] = deque()
        """Recorded runs whose call waits for a worker."""
        self._workers: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._workers)

    async def start_execution(self, job: Job, scheduled_at: datetime, *, manual: bool) -> Execution:
        """Record the execution as running and launch its HTTP call in the background."""
        [started] = await self.start_executions([(job, scheduled_at)], manual=manual)
        return started.execution()

    async def start_executions(self, runs: Sequence[tuple[Job, datetime]], *, manual: bool) -> list[StartedRun]:
        """Record runs as running and launch their calls; returns once the records are committed.

        The calls are queued for the workers at once and go out while the records commit: 10,000 runs due
        at one instant commit in ~150 ms, and waiting for that before the first call made every run that
        much late. The writer takes writes in order, so a run's finish is never written before its start.
        A crash in between leaves a call without its record; the next start reports that run as missed.
        Rows are built straight from the runs (no Execution objects: ~4 us each, for 10,000 at once).
        """
        with heap.collection_paused():  # 10,000 at once: no collection halfway
            now = self._clock.now()
            started = [
                StartedRun(job, execution_id, scheduled_at, now if manual else scheduled_at, now, manual)
                for (job, scheduled_at), execution_id in zip(runs, new_ids("exec", len(runs)), strict=True)
            ]

            def record(conn: sqlite3.Connection) -> None:
                insert_started_runs_sync(conn, [run.row() for run in started])
                set_last_runs_sync(conn, (run.job.id for run in started), now)

            # Queued before any worker exists, so ahead of every finish write (the writer's queue is in order).
            recorded = asyncio.ensure_future(self._db.write_sync(record, quick=len(runs) <= QUICK_RUNS))
            publish = self._bus.publish
            for run in started:
                publish(ExecutionStarted(run.job.account_id, run.job.id, run.execution_id))
            self._waiting.extend(started)
            self._add_workers()
        try:
            await recorded
        except Exception:
            log.exception("%d run(s) were launched but could not be recorded", len(runs))
            raise
        return started

    def _add_workers(self) -> None:
        # At most max_concurrent_executions calls at once: one worker per call in flight, taking the
        # waiting runs in order (a task per run would cost ~13 us each before any call goes out).
        wanted = min(self._max_workers - len(self._workers), len(self._waiting))
        for _ in range(wanted):
            worker = asyncio.create_task(self._work(), name="execution-worker")
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)

    async def _work(self) -> None:
        while self._waiting:
            run = self._waiting.popleft()
            await self._run(run.job, run.execution())

    async def wait_calls(self, timeout_secs: float) -> None:
        """Wait until no call is in flight or waiting, for at most `timeout_secs` (real time: calls run in it)."""
        deadline = time.monotonic() + timeout_secs
        while self._workers and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(tuple(self._workers), timeout=left)

    async def wait_idle(self) -> None:
        """Wait until every execution started so far has been recorded (tests, shutdown)."""
        while self._workers:
            await asyncio.gather(*tuple(self._workers), return_exceptions=True)

    async def shutdown(self, grace_secs: float) -> None:
        """Let running executions finish for up to `grace_secs`, then cancel (recorded as failed)."""
        if self._workers:
            await asyncio.wait(tuple(self._workers), timeout=grace_secs)
        never_called = list(self._waiting)
        self._waiting.clear()
        for worker in tuple(self._workers):
            worker.cancel()
        await asyncio.gather(*tuple(self._workers), return_exceptions=True)
        for run in never_called:
            await self._record(
                run.job, self._ended(run.execution(), ExecutionStatus.FAILED, None, 0, SHUTDOWN_ERROR, 0)
            )

    async def _run(self, job: Job, execution: Execution) -> Execution:
        try:
            finished = await self._call(job, execution)
        except asyncio.CancelledError:
            finished = self._ended(execution, ExecutionStatus.FAILED, None, 0, SHUTDOWN_ERROR, 0)
            await asyncio.shield(self._record(job, finished))
            raise
        except Exception as exc:
            log.exception("execution %s crashed", execution.id)
            finished = self._ended(execution, ExecutionStatus.FAILED, None, 0, f"internal error: {exc}", 0)
        await self._record(job, finished)
        return finished

    async def _call(self, job: Job, execution: Execution) -> Execution:
        spec = job.spec
        headers = {
            **spec.headers,
            "X-Tickstem-Job-ID": job.id,
            "X-Tickstem-Job-Name": _header_value(spec.name),
            "X-Tickstem-Execution-ID": execution.id,
        }
        headers.setdefault("User-Agent", f"tickstem-tui/{__version__}")
        retries = self._settings.default_job_retries if spec.retries is None else spec.retries
        timeout = aiohttp.ClientTimeout(total=spec.timeout_secs)
        backoff = self._settings.retry_backoff_secs
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._session.request(
                    spec.method, spec.endpoint, headers=headers, timeout=timeout, allow_redirects=False
                ) as response:
                    body = await response.content.read(BODY_EXCERPT_BYTES)
                    elapsed = _ms_since(started)
                    if 200 <= response.status < 300:
                        return self._ended(execution, ExecutionStatus.SUCCESS, response.status, elapsed, "", attempt)
                    excerpt = body.decode("utf-8", "replace").strip()
                    error = f"HTTP {response.status} response from endpoint"
                    if excerpt:
                        error += f": {excerpt}"
                    return self._ended(execution, ExecutionStatus.FAILED, response.status, elapsed, error, attempt)
            except TimeoutError:
                error = f"no response within {spec.timeout_secs}s"
                return self._ended(execution, ExecutionStatus.TIMEOUT, None, _ms_since(started), error, attempt)
            except (aiohttp.ClientError, OSError) as exc:
                message = str(exc) or type(exc).__name__
                if attempt > retries:
                    error = f"network error after {attempt} attempt{'s' if attempt > 1 else ''}: {message}"
                    return self._ended(execution, ExecutionStatus.FAILED, None, _ms_since(started), error, attempt)
                log.info("job %s attempt %d failed (%s); retrying in %.2fs", job.id, attempt, message, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECS)

    def _ended(
        self,
        execution: Execution,
        status: ExecutionStatus,
        status_code: int | None,
        duration_ms: int,
        error: str,
        attempts: int,
    ) -> Execution:
        return replace(
            execution,
            status=status,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error[:2000],
            finished_at=self._clock.now(),
            attempts=attempts,
        )

    async def _record(self, job: Job, finished: Execution) -> None:
        now = self._clock.now()
        failing_after = self._settings.failing_after

        def record(conn: sqlite3.Connection) -> Flipped | None:
            finish_execution_sync(conn, finished)
            health = job_health_sync(conn, job.id)
            if health is None:
                return None  # deleted while running; its executions went with it
            current_status, streak_before, name = health
            current = replace(job, status=current_status, consecutive_failures=streak_before)
            status, streak = status_after_run(current, finished.status, failing_after)
            changed = status is not current_status
            set_job_health_sync(conn, job.id, status, streak, current_status, now if changed else None)
            if not changed:
                return None
            reason = (
                f"{streak} consecutive failed runs; last: {finished.error}"
                if status is JobStatus.FAILING
                else "a run succeeded"
            )
            flip = Flipped(job.account_id, "job", job.id, name, current_status.value, status.value, reason, now)
            record_flip_sync(conn, flip)
            return flip

        flip = await self._db.write_sync(record, quick=True)
        self._bus.publish(
            ExecutionFinished(
                job.account_id,
                job.id,
                finished.id,
                finished.status.value,
                finished.status_code,
                finished.duration_ms,
            )
        )
        if flip is not None:
            self._bus.publish(flip)


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
