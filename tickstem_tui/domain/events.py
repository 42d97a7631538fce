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


@dataclass(frozen=True, slots=True)
class MonitorChanged(Event):
    """An uptime monitor was created, edited, paused, resumed or deleted (`deleted` tells which)."""

    account_id: str
    monitor_id: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class CheckRecorded(Event):
    """An uptime check finished and is stored (its monitor's health flip, if any, follows as Flipped)."""

    account_id: str
    monitor_id: str
    check_id: str
    status: str
    status_code: int | None
    duration_ms: int
    monitor_status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HeartbeatChanged(Event):
    """A heartbeat was created, edited, paused, resumed, deleted, or the watchdog counted a miss."""

    account_id: str
    heartbeat_id: str
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class PingReceived(Event):
    """A ping is committed (its health flip, if any, follows as Flipped). `status` is the face's word after it."""

    account_id: str
    heartbeat_id: str
    kind: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class WatchdogGap(Event):
    """The watchdog could not observe a stretch (machine asleep, server stopped); deadlines in it were re-armed."""

    reason: str
    started_at: datetime
    ended_at: datetime
    rearmed: int


@dataclass(frozen=True, slots=True)
class Notice(Event):
    """Something the user should hear about once (e.g. no desktop session for notifications)."""

    message: str
    severity: str = "information"


@dataclass(frozen=True, slots=True)
class VerificationRecorded(Event):
    """An email verification is stored in the account's history."""

    account_id: str
    verification_id: str
    email: str
    valid: bool
    reason: str
