"""Small frozen events services publish; the TUI and other listeners subscribe to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Event:
    """Base class for everything on the bus."""


@dataclass(frozen=True, slots=True)
class JobChanged(Event):
    """A job was created, edited, paused, resumed or deleted (`deleted` tells which)."""

    account_id: str
    job_id: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class ExecutionStarted(Event):
    account_id: str
    job_id: str
    execution_id: str


@dataclass(frozen=True, slots=True)
class ExecutionFinished(Event):
    account_id: str
    job_id: str
    execution_id: str
    status: str
    status_code: int | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Flipped(Event):
    """Something changed health: a job, monitor or heartbeat went failing or recovered."""

    account_id: str
    subject_kind: str
    subject_id: str
    subject_name: str
    old_status: str
    new_status: str
    reason: str
    at: datetime
