"""Jobs and executions: rows to domain objects and back, with no rules of their own."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime

import aiosqlite

from tickstem_tui.domain.jobs import Execution, ExecutionStatus, Job, JobSpec, JobStatus
from tickstem_tui.domain.times import from_ms, opt_from_ms, opt_to_ms, to_ms
from tickstem_tui.store.database import Database

_STATUSES = {status.value: status for status in JobStatus}


def row_to_job(row: aiosqlite.Row) -> Job:
    headers = row["headers"]
    return Job(
        id=row["id"],
        account_id=row["account_id"],
        spec=JobSpec(
            name=row["name"],
            schedule=row["schedule"],
            endpoint=row["endpoint"],
            method=row["method"],
            # Most jobs send no extra headers; json.loads("{}") alone cost a third of listing a job.
            headers={} if headers == "{}" else json.loads(headers),
            timeout_secs=row["timeout_secs"],
            retries=row["retries"],
            description=row["description"],
        ),
        status=_STATUSES[row["status"]],
        consecutive_failures=row["consecutive_failures"],
        next_run_at=opt_from_ms(row["next_run_at"]),
        last_run_at=opt_from_ms(row["last_run_at"]),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
    )


def row_to_execution(row: aiosqlite.Row) -> Execution:
    return Execution(
        id=row["id"],
        job_id=row["job_id"],
        status=ExecutionStatus(row["status"]),
        status_code=row["status_code"],
        duration_ms=row["duration_ms"],
        error=row["error"],
        scheduled_at=from_ms(row["scheduled_at"]),
        triggered_at=from_ms(row["triggered_at"]),
        started_at=opt_from_ms(row["started_at"]),
        finished_at=opt_from_ms(row["finished_at"]),
        attempts=row["attempts"],
        manual=bool(row["manual"]),
    )


def _job_params(job: Job) -> tuple[object, ...]:
    spec = job.spec
    return (
        job.id,
        job.account_id,
        spec.name,
        spec.description,
        spec.schedule,
        spec.endpoint,
        spec.method,
        json.dumps(spec.headers) if spec.headers else "{}",  # most jobs: no extra headers
        spec.timeout_secs,
        spec.retries,
        job.status.value,
        job.consecutive_failures,
        opt_to_ms(job.next_run_at),
        opt_to_ms(job.last_run_at),
        to_ms(job.created_at),
        to_ms(job.updated_at),
    )


_JOB_COLUMNS = (
    "id, account_id, name, description, schedule, endpoint, method, headers, timeout_secs, retries, "
    "status, consecutive_failures, next_run_at, last_run_at, created_at, updated_at"
)


_COLUMN_NAMES = tuple(column.strip() for column in _JOB_COLUMNS.split(","))
_UPDATABLE = [column for column in _COLUMN_NAMES if column not in ("id", "account_id", "created_at")]


# An upsert, never INSERT OR REPLACE: replacing deletes the row and cascades to its executions.
_SAVE_JOB = f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' * 16)}) ON CONFLICT (id) DO UPDATE SET " + (
    ", ".join(f"{column} = excluded.{column}" for column in _UPDATABLE)
)


async def save_job(conn: aiosqlite.Connection, job: Job) -> None:
    """Insert or fully overwrite a job row (inside a caller's write)."""
    await conn.execute(_SAVE_JOB, _job_params(job))


def save_job_sync(conn: sqlite3.Connection, job: Job, stored: Job | None = None) -> None:
    """The same inside a `Database.write_sync` function; given the row as `stored`, only what differs.

    Writing only the changed columns spares the upsert's insert attempt, its foreign-key check and the
    rewrite of the (account, name) index when the name stays: a third of a changing re-registration.
    """
    params = _job_params(job)
    if stored is None:
        conn.execute(_SAVE_JOB, params)
        return
    assert stored.id == job.id
    changed = tuple(
        index for index, (old, new) in enumerate(zip(_job_params(stored), params, strict=True)) if old != new
    )
    if changed:
        conn.execute(_update_columns_sql(changed), (*(params[index] for index in changed), job.id))


@functools.lru_cache(maxsize=256)
def _update_columns_sql(indexes: tuple[int, ...]) -> str:
    assignments = ", ".join(f"{_COLUMN_NAMES[index]} = ?" for index in indexes)
    return f"UPDATE jobs SET {assignments} WHERE id = ?"


def fetch_job_sync(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> Job | None:
    """One job as the writer sees it (inside its transaction)."""
    row = conn.execute(f"SELECT * FROM jobs WHERE {where}", params).fetchone()
    return None if row is None else row_to_job(row)


_INSERT_EXECUTION = (
    "INSERT INTO executions (id, job_id, status, status_code, duration_ms, error, scheduled_at, "
    "triggered_at, started_at, finished_at, attempts, manual) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_FINISH_EXECUTION = (
    "UPDATE executions SET status = ?, status_code = ?, duration_ms = ?, error = ?, finished_at = ?, "
    "attempts = ? WHERE id = ?"
)


def _execution_params(execution: Execution) -> tuple[object, ...]:
    return (
        execution.id,
        execution.job_id,
        execution.status.value,
        execution.status_code,
        execution.duration_ms,
        execution.error,
        to_ms(execution.scheduled_at),
        to_ms(execution.triggered_at),
        opt_to_ms(execution.started_at),
        opt_to_ms(execution.finished_at),
        execution.attempts,
        int(execution.manual),
    )


async def insert_execution(conn: aiosqlite.Connection, execution: Execution) -> None:
    await conn.execute(_INSERT_EXECUTION, _execution_params(execution))


# -- writes as plain functions for `Database.write_sync` (the writer's thread, one round trip per batch) ----------
def started_run_row(
    execution_id: str, job_id: str, scheduled_at: datetime, triggered_at: datetime, started_at: datetime, manual: bool
) -> tuple[object, ...]:
    """The row of an execution just started (status running), for insert_started_runs_sync()."""
    return (
        execution_id,
        job_id,
        ExecutionStatus.RUNNING.value,
        None,
        0,
        "",
        to_ms(scheduled_at),
        to_ms(triggered_at),
        to_ms(started_at),
        None,
        0,
        int(manual),
    )


def insert_started_runs_sync(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    conn.executemany(_INSERT_EXECUTION, rows)


def set_last_runs_sync(conn: sqlite3.Connection, job_ids: Iterable[str], when: datetime) -> None:
    moment = to_ms(when)
    conn.executemany("UPDATE jobs SET last_run_at = ? WHERE id = ?", [(moment, job_id) for job_id in job_ids])


def set_next_runs_sync(conn: sqlite3.Connection, updates: Iterable[tuple[str, datetime | None]]) -> None:
    conn.executemany(
        "UPDATE jobs SET next_run_at = ? WHERE id = ?", [(opt_to_ms(when), job_id) for job_id, when in updates]
    )


def finish_execution_sync(conn: sqlite3.Connection, execution: Execution) -> None:
    conn.execute(
        _FINISH_EXECUTION,
        (
            execution.status.value,
            execution.status_code,
            execution.duration_ms,
            execution.error,
            opt_to_ms(execution.finished_at),
            execution.attempts,
            execution.id,
        ),
    )


def job_health_sync(conn: sqlite3.Connection, job_id: str) -> tuple[JobStatus, int, str] | None:
    """A job's status, failure streak and name as the writer sees them (None once deleted)."""
    row = conn.execute("SELECT status, consecutive_failures, name FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else (JobStatus(row[0]), row[1], row[2])


def set_job_health_sync(
    conn: sqlite3.Connection, job_id: str, status: JobStatus, streak: int, was: JobStatus, updated_at: datetime | None
) -> None:
    """Compare-and-set of a job's health after a run; `updated_at` only when the status changed."""
    if updated_at is None:
        conn.execute(
            "UPDATE jobs SET status = ?, consecutive_failures = ? WHERE id = ? AND status = ?",
            (status.value, streak, job_id, was.value),
        )
    else:
        conn.execute(
            "UPDATE jobs SET status = ?, consecutive_failures = ?, updated_at = ? WHERE id = ? AND status = ?",
            (status.value, streak, to_ms(updated_at), job_id, was.value),
        )


class JobRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, account_id: str, job_id: str) -> Job | None:
        row = await self._db.fetch_one(
            "SELECT * FROM jobs WHERE id = ? AND account_id = ?", (job_id, account_id), quick=True
        )
        return None if row is None else row_to_job(row)

    async def get_any(self, job_id: str) -> Job | None:
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else row_to_job(row)

    async def for_account(self, account_id: str) -> list[Job]:
        rows = await self._db.fetch_all(
            "SELECT * FROM jobs WHERE account_id = ? ORDER BY created_at, id", (account_id,)
        )
        return [row_to_job(row) for row in rows]

    async def all_jobs(self) -> list[Job]:
        rows = await self._db.fetch_all("SELECT * FROM jobs ORDER BY created_at, id")
        return [row_to_job(row) for row in rows]

    async def executions(self, job_id: str, limit: int, offset: int) -> list[Execution]:
        rows = await self._db.fetch_all(
            "SELECT * FROM executions WHERE job_id = ? ORDER BY triggered_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (job_id, limit, offset),
        )
        return [row_to_execution(row) for row in rows]

    async def latest_executions(self, account_id: str) -> dict[str, Execution]:
        """Each of the account's jobs' newest execution, by job id (one index probe per job)."""
        rows = await self._db.fetch_all(
            "SELECT e.* FROM jobs AS j JOIN executions AS e ON e.rowid = (SELECT rowid FROM executions "
            "WHERE job_id = j.id ORDER BY triggered_at DESC, rowid DESC LIMIT 1) WHERE j.account_id = ?",
            (account_id,),
        )
        return {row["job_id"]: row_to_execution(row) for row in rows}

    async def get_execution(self, execution_id: str) -> Execution | None:
        row = await self._db.fetch_one("SELECT * FROM executions WHERE id = ?", (execution_id,))
        return None if row is None else row_to_execution(row)

    async def set_planned_runs(self, updates: Iterable[tuple[str, datetime, str]]) -> None:
        """(job id, next run, the schedule it was computed from): a job paused or given another schedule
        meanwhile keeps the plan its edit stored."""
        await self._db.execute_many(
            "UPDATE jobs SET next_run_at = ? WHERE id = ? AND schedule = ? AND status != 'paused'",
            [(to_ms(when), job_id, schedule) for job_id, when, schedule in updates],
        )

    async def set_next_runs(self, updates: Iterable[tuple[str, datetime | None]]) -> None:
        await self._db.execute_many(
            "UPDATE jobs SET next_run_at = ? WHERE id = ?",
            [(opt_to_ms(when), job_id) for job_id, when in updates],
        )

    async def prune_executions(self, before: datetime, batch: int = 5000) -> int:
        """Delete executions triggered before `before`, in bounded batches so writes stay short."""
        total = 0
        while True:
            deleted = await self._db.execute(
                "DELETE FROM executions WHERE rowid IN (SELECT rowid FROM executions WHERE triggered_at < ? LIMIT ?)",
                (to_ms(before), batch),
            )
            total += deleted
            if deleted < batch:
                return total
