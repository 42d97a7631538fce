"""Cron jobs and their executions: the shapes, the input rules and the outcome rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.schedule import normalize
from tickstem_tui.domain.validation import (
    check_http_url,
    check_int,
    check_str,
    check_str_map,
)

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
DEFAULT_TIMEOUT_SECS = 30
MAX_TIMEOUT_SECS = 300
MAX_RETRIES = 10


class JobStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FAILING = "failing"


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    MISSED = "missed"
    """Runs that fell due while the server was stopped: recorded once per gap, never replayed."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a user controls about a job; validated as a whole."""

    name: str
    schedule: str
    endpoint: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    timeout_secs: int = DEFAULT_TIMEOUT_SECS
    retries: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    account_id: str
    spec: JobSpec
    status: JobStatus
    consecutive_failures: int
    next_run_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Execution:
    id: str
    job_id: str
    status: ExecutionStatus
    status_code: int | None
    duration_ms: int
    error: str
    scheduled_at: datetime
    triggered_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    manual: bool


_SPEC_FIELDS = ("name", "schedule", "endpoint", "method", "headers", "timeout_secs", "retries", "description")


def parse_spec(data: dict[str, Any], base: JobSpec | None = None) -> JobSpec:
    """Build a spec from a request body; with `base`, absent keys keep their current values (merge)."""
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    merged: dict[str, Any] = {}
    if base is not None:
        merged = {name: getattr(base, name) for name in _SPEC_FIELDS}
    for name in _SPEC_FIELDS:
        if name in data and data[name] is not None:
            merged[name] = data[name]
    for required in ("name", "schedule", "endpoint"):
        if required not in merged:
            raise ValidationError(f"{required} is required")
    method = check_str("method", merged.get("method", "POST")).upper()
    if method not in HTTP_METHODS:
        raise ValidationError(f"method must be one of {', '.join(HTTP_METHODS)}")
    retries = merged.get("retries")
    return JobSpec(
        name=check_str("name", merged["name"], max_len=200),
        schedule=normalize(merged["schedule"]),
        endpoint=check_http_url("endpoint", merged["endpoint"]),
        method=method,
        headers=check_str_map("headers", merged.get("headers", {})),
        timeout_secs=check_int(
            "timeout_secs", merged.get("timeout_secs", DEFAULT_TIMEOUT_SECS), low=1, high=MAX_TIMEOUT_SECS
        ),
        retries=None if retries is None else check_int("retries", retries, low=0, high=MAX_RETRIES),
        description=check_str("description", merged.get("description", ""), max_len=2000, allow_empty=True),
    )


def parse_status_change(value: Any) -> JobStatus:
    """Users may set active or paused; failing is the server's verdict, never an input."""
    if value not in (JobStatus.ACTIVE.value, JobStatus.PAUSED.value):
        raise ValidationError('status must be "active" or "paused"')
    return JobStatus(value)


def is_success(status: ExecutionStatus) -> bool:
    return status is ExecutionStatus.SUCCESS


def status_after_run(job: Job, outcome: ExecutionStatus, failing_after: int) -> tuple[JobStatus, int]:
    """The job's status and failure streak after one finished execution.

    Two non-successes in a row make an active job failing; the next success makes it active again.
    A paused job stays paused whatever a run (manual, or in flight when paused) reports.
    """
    status: JobStatus
    if is_success(outcome):
        streak = 0
        status = JobStatus.ACTIVE if job.status is JobStatus.FAILING else job.status
    else:
        streak = job.consecutive_failures + 1
        status = job.status
        if job.status is JobStatus.ACTIVE and streak >= failing_after:
            status = JobStatus.FAILING
    return status, streak


def with_status(job: Job, status: JobStatus, now: datetime) -> Job:
    return replace(job, status=status, updated_at=now)
