"""Job operations shared by the REST API and the TUI: register (upsert), edit, pause, delete, run now."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

from tickstem_tui.clock import Clock
from tickstem_tui.domain.errors import Conflict, NotFound, ValidationError
from tickstem_tui.domain.events import JobChanged
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.jobs import Execution, Job, JobStatus, parse_spec, parse_status_change
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.executor import Executor
from tickstem_tui.services.scheduler import Scheduler, next_fire
from tickstem_tui.store.database import Database
from tickstem_tui.store.jobs import JobRepository, fetch_job_sync, save_job_sync

JOB_NOT_FOUND = "job not found"


class JobService:
    def __init__(
        self,
        db: Database,
        repo: JobRepository,
        scheduler: Scheduler,
        executor: Executor,
        bus: EventBus,
        clock: Clock,
    ) -> None:
        self._db = db
        self.repo = repo
        self._scheduler = scheduler
        self._executor = executor
        self._bus = bus
        self._clock = clock

    async def get(self, account_id: str, job_id: str) -> Job:
        job = await self.repo.get(account_id, job_id)
        if job is None:
            raise NotFound(JOB_NOT_FOUND)
        return job

    async def list_jobs(self, account_id: str) -> list[Job]:
        return await self.repo.for_account(account_id)

    async def register(self, account_id: str, data: dict[str, Any]) -> tuple[Job, bool]:
        """Create a job, or update the account's job of the same name; returns (job, created).

        Registering a job again unchanged (what deploys do) writes nothing and keeps `updated_at`.
        """
        if not isinstance(data, dict):
            raise ValidationError("request body must be a JSON object")
        name = data.get("name")
        key = name.strip() if isinstance(name, str) else None
        now = self._clock.now()

        def run(conn: sqlite3.Connection) -> tuple[Job, bool, bool]:
            existing = None if key is None else fetch_job_sync(conn, "account_id = ? AND name = ?", (account_id, key))
            if existing is not None:
                spec = parse_spec(data, base=existing.spec)
                if spec == existing.spec:
                    return existing, False, False
                job = self._planned(replace(existing, spec=spec, updated_at=now), existing)
                created = False
            else:
                spec = parse_spec(data)
                job = Job(
                    id=new_id("job"),
                    account_id=account_id,
                    spec=spec,
                    status=JobStatus.ACTIVE,
                    consecutive_failures=0,
                    next_run_at=None,
                    last_run_at=None,
                    created_at=now,
                    updated_at=now,
                )
                job = self._planned(job)
                created = True
            save_job_sync(conn, job, existing)
            return job, created, True

        job, created, changed = await self._db.write_sync(run, quick=True)
        if changed:
            self._scheduler.track(job)
            self._bus.publish(JobChanged(account_id, job.id))
        return job, created

    async def update(self, account_id: str, job_id: str, data: dict[str, Any]) -> Job:
        """Merge the given fields into the job (absent fields keep their values); `status` optional."""
        if not isinstance(data, dict):
            raise ValidationError("request body must be a JSON object")
        status = parse_status_change(data["status"]) if data.get("status") is not None else None
        now = self._clock.now()

        def run(conn: sqlite3.Connection) -> Job:
            current = fetch_job_sync(conn, "id = ? AND account_id = ?", (job_id, account_id))
            if current is None:
                raise NotFound(JOB_NOT_FOUND)
            spec = parse_spec(data, base=current.spec)
            if spec.name != current.spec.name:
                taken = conn.execute(
                    "SELECT 1 FROM jobs WHERE account_id = ? AND name = ? AND id != ?", (account_id, spec.name, job_id)
                ).fetchone()
                if taken is not None:
                    raise Conflict(f"a job named {spec.name!r} already exists")
            job = replace(current, spec=spec, updated_at=now)
            if status is not None:
                job = _with_status(job, status)
            job = self._planned(job, current)
            save_job_sync(conn, job, current)
            return job

        job = await self._db.write_sync(run, quick=True)
        self._scheduler.track(job)
        self._bus.publish(JobChanged(account_id, job.id))
        return job

    async def set_status(self, account_id: str, job_id: str, status: JobStatus) -> Job:
        return await self.update(account_id, job_id, {"status": status.value})

    async def pause(self, account_id: str, job_id: str) -> Job:
        return await self.set_status(account_id, job_id, JobStatus.PAUSED)

    async def resume(self, account_id: str, job_id: str) -> Job:
        return await self.set_status(account_id, job_id, JobStatus.ACTIVE)

    async def delete(self, account_id: str, job_id: str) -> None:
        """Remove the job and, with it, all its executions."""
        changed = await self._db.execute("DELETE FROM jobs WHERE id = ? AND account_id = ?", (job_id, account_id))
        if changed == 0:
            raise NotFound(JOB_NOT_FOUND)
        self._scheduler.forget(job_id)
        self._bus.publish(JobChanged(account_id, job_id, deleted=True))

    async def executions(self, account_id: str, job_id: str, limit: int, offset: int) -> list[Execution]:
        await self.get(account_id, job_id)
        return await self.repo.executions(job_id, limit, offset)

    async def latest_executions(self, account_id: str) -> dict[str, Execution]:
        """The newest execution of each of the account's jobs, by job id (the console's "last run" column)."""
        return await self.repo.latest_executions(account_id)

    async def trigger(self, account_id: str, job_id: str) -> Execution:
        """Run the job now (even when paused), asynchronously; returns the running execution."""
        job = await self.get(account_id, job_id)
        return await self._executor.start_execution(job, self._clock.now(), manual=True)

    def _planned(self, job: Job, before: Job | None = None) -> Job:
        # Planned from the moment the change is stamped with (updated_at): the scheduler's load trusts
        # stored plans only while the clock is past every stored time.
        if before is not None and _plan_still_holds(before, job):
            return job  # replace() carried the stored next run over; computing it costs ~30 us
        return replace(job, next_run_at=next_fire(job, job.updated_at))


def _plan_still_holds(before: Job, after: Job) -> bool:
    """True if `before`'s stored next run is also `after`'s: the first fire time after `after.updated_at`.

    It was computed from the same schedule at a moment no later than now (the job's last change or
    run), and it is still ahead, so no fire time lies between that moment and it, nor between now and it.
    """
    planned = before.next_run_at
    computed_by = max(before.updated_at, before.last_run_at or before.updated_at)
    return (
        planned is not None
        and after.next_run_at == planned
        and after.spec.schedule == before.spec.schedule
        and after.status is before.status
        and computed_by <= after.updated_at < planned
    )


def _with_status(job: Job, status: JobStatus) -> Job:
    if status is JobStatus.PAUSED:
        return replace(job, status=JobStatus.PAUSED)
    # Resuming (or setting active) clears a failing verdict and its streak.
    return replace(job, status=JobStatus.ACTIVE, consecutive_failures=0)
