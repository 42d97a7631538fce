"""The console's view cache: the account's jobs, monitors and heartbeats, kept fresh from bridge batches.

It holds what the services returned (plus the latest run and check), versioned per entity so screens
repaint only rows whose version moved. It makes no decisions of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from tickstem_tui.domain.errors import NotFound
from tickstem_tui.domain.heartbeats import Heartbeat
from tickstem_tui.domain.jobs import Execution, Job, JobStatus
from tickstem_tui.domain.monitors import Monitor, Uptime
from tickstem_tui.facade import Services
from tickstem_tui.tui.bridge import Changes, CheckInfo, RunInfo

T = TypeVar("T")

BULK = 48
"""More changed ids of one kind than this in a batch: one list query beats that many single-row reads."""
UPTIME_REFRESH_SECS = 60.0
"""Uptime percentages come from hourly roll-ups; re-reading them more often than this shows nothing new."""


@dataclass(slots=True)
class JobItem:
    job: Job
    last: RunInfo | None
    version: int = 0


@dataclass(slots=True)
class MonitorItem:
    monitor: Monitor
    last: CheckInfo | None
    uptime: Uptime | None
    version: int = 0
    uptime_read: float = 0.0


@dataclass(slots=True)
class HeartbeatItem:
    heartbeat: Heartbeat
    version: int = 0


@dataclass(slots=True)
class Delta:
    """What a batch changed: ids per kind (changed or added), removed ids, and new history rows."""

    jobs: set[str] = field(default_factory=set)
    monitors: set[str] = field(default_factory=set)
    heartbeats: set[str] = field(default_factory=set)
    removed_jobs: set[str] = field(default_factory=set)
    removed_monitors: set[str] = field(default_factory=set)
    removed_heartbeats: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    """Jobs with a new or finished execution (their history pane is stale)."""
    checks: set[str] = field(default_factory=set)
    pings: set[str] = field(default_factory=set)
    feed: bool = False

    def __bool__(self) -> bool:
        return any(
            (
                self.jobs,
                self.monitors,
                self.heartbeats,
                self.removed_jobs,
                self.removed_monitors,
                self.removed_heartbeats,
                self.runs,
                self.checks,
                self.pings,
                self.feed,
            )
        )


def _run_info(execution: Execution) -> RunInfo:
    running = execution.finished_at is None
    return RunInfo(
        execution.id,
        execution.status.value,
        execution.status_code,
        None if running else execution.duration_ms,
        execution.triggered_at,
    )


class ConsoleModel:
    """Entities of one account, loaded once and then refreshed by id as the bridge reports changes."""

    def __init__(self, services: Services, account_id: str) -> None:
        self.services = services
        self.account_id = account_id
        self.jobs: dict[str, JobItem] = {}
        self.monitors: dict[str, MonitorItem] = {}
        self.heartbeats: dict[str, HeartbeatItem] = {}
        self.loaded = False
        self._lock = asyncio.Lock()
        self._version = 0

    def _next(self) -> int:
        self._version += 1
        return self._version

    def name_of(self, kind: str, entity_id: str) -> str | None:
        item: JobItem | MonitorItem | HeartbeatItem | None
        if kind == "job":
            item = self.jobs.get(entity_id)
            return item.job.name if item else None
        if kind == "monitor":
            item = self.monitors.get(entity_id)
            return item.monitor.name if item else None
        if kind == "heartbeat":
            item = self.heartbeats.get(entity_id)
            return item.heartbeat.name if item else None
        return None

    # -- loading -----------------------------------------------------------------------------------
    async def load(self) -> Delta:
        """Read everything (start-up, or after an overflow)."""
        async with self._lock:
            delta = Delta()
            await self._reload_jobs(delta)
            await self._reload_monitors(delta)
            await self._reload_heartbeats(delta)
            self.loaded = True
            return delta

    async def apply(self, changes: Changes) -> Delta:
        """Fold one bridge batch into the cache; returns what screens must repaint."""
        async with self._lock:
            delta = Delta(feed=bool(changes.feed))
            await self._apply_jobs(changes, delta)
            await self._apply_monitors(changes, delta)
            await self._apply_heartbeats(changes, delta)
            return delta

    async def refresh_monitors(self) -> Delta:
        """Re-read every monitor with its uptime and certificate (roll-ups move slowly; a timer calls this)."""
        async with self._lock:
            delta = Delta()
            await self._reload_monitors(delta)
            return delta

    # -- jobs --------------------------------------------------------------------------------------
    async def _reload_jobs(self, delta: Delta, runs: Mapping[str, RunInfo] | None = None) -> None:
        """Re-read the jobs; with `runs` (a burst's latest runs, from the events) the last-run column comes from
        them and the rest keep theirs, which spares reading every job's newest execution again."""
        jobs = await self.services.jobs.list_jobs(self.account_id)
        latest = {} if runs is not None else await self.services.jobs.latest_executions(self.account_id)
        seen = set()
        for job in jobs:
            seen.add(job.id)
            item = self.jobs.get(job.id)
            if runs is None:
                last = _run_info(latest[job.id]) if job.id in latest else None
            else:
                last = runs.get(job.id, item.last if item is not None else None)
            if item is None:
                self.jobs[job.id] = JobItem(job, last, self._next())
                delta.jobs.add(job.id)
            elif item.job != job or item.last != last:
                if item.last != last:
                    delta.runs.add(job.id)
                item.job, item.last, item.version = job, last, self._next()
                delta.jobs.add(job.id)
        self._drop(self.jobs, seen, delta.removed_jobs)

    async def _apply_jobs(self, changes: Changes, delta: Delta) -> None:
        runs = changes.runs
        # A run changes only the row's last-run cells, which the event carries; the job row is re-read when it
        # changed (JobChanged, Flipped), is new to us, or kept failing (its failure count grew).
        reread = set(changes.jobs)
        for job_id, run in runs.items():
            item = self.jobs.get(job_id)
            if item is None or (run.status not in ("running", "success") and item.job.status is JobStatus.FAILING):
                reread.add(job_id)
        if "jobs" in changes.reload or len(reread) > BULK:
            # An overflowed batch may have lost runs, so only then is every job's newest execution re-read.
            await self._reload_jobs(delta, None if "jobs" in changes.reload else runs)
            delta.runs.update(runs)
            return
        fetched = await self._fetch(
            (job_id for job_id in reread if not changes.jobs.get(job_id)),
            lambda job_id: self.services.jobs.get(self.account_id, job_id),
        )
        for job_id in reread:
            job = fetched.get(job_id)
            if job is None:
                if self.jobs.pop(job_id, None) is not None:
                    delta.removed_jobs.add(job_id)
                continue
            item = self.jobs.get(job_id)
            if item is None:
                self.jobs[job_id] = JobItem(job, None)
            else:
                item.job = job
        for job_id, run in runs.items():
            item = self.jobs.get(job_id)
            if item is None:
                continue
            if item.last is not None and item.last.execution_id == run.execution_id and item.last.at is not None:
                run = replace(run, at=item.last.at)  # keep the start time seen with ExecutionStarted
            item.last = run
            delta.runs.add(job_id)
        for job_id in reread | set(runs):
            if (item := self.jobs.get(job_id)) is not None:
                item.version = self._next()
                delta.jobs.add(job_id)

    # -- monitors ----------------------------------------------------------------------------------
    async def _reload_monitors(self, delta: Delta) -> None:
        monitors = await self.services.monitors.list_monitors(self.account_id)
        latest = await self.services.monitors.latest_checks(self.account_id)
        uptime = await self.services.monitors.uptime(self.account_id)
        stamp = time.monotonic()
        seen = set()
        for monitor in monitors:
            seen.add(monitor.id)
            check = latest.get(monitor.id)
            last = (
                None
                if check is None
                else CheckInfo(check.id, check.status.value, check.status_code, check.duration_ms, check.checked_at)
            )
            item = self.monitors.get(monitor.id)
            if item is None:
                self.monitors[monitor.id] = MonitorItem(monitor, last, uptime.get(monitor.id), self._next(), stamp)
                delta.monitors.add(monitor.id)
            elif item.monitor != monitor or item.last != last or item.uptime != uptime.get(monitor.id):
                if item.last != last:
                    delta.checks.add(monitor.id)
                item.monitor, item.last, item.uptime = monitor, last, uptime.get(monitor.id)
                item.version, item.uptime_read = self._next(), stamp
                delta.monitors.add(monitor.id)
        self._drop(self.monitors, seen, delta.removed_monitors)

    async def _apply_monitors(self, changes: Changes, delta: Delta) -> None:
        checks = changes.checks
        # A check carries the row's response cells; the monitor is re-read when it changed, is new to us, or the
        # check moved its status. Slow-moving fields (certificate, uptime) follow with `refresh_monitors`.
        reread = set(changes.monitors)
        for monitor_id, check in checks.items():
            item = self.monitors.get(monitor_id)
            if item is None or (check.monitor_status is not None and check.monitor_status != item.monitor.status.value):
                reread.add(monitor_id)
        if "monitors" in changes.reload or len(reread) > BULK:
            await self._reload_monitors(delta)
            delta.checks.update(checks)
            return
        fetched = await self._fetch(
            (monitor_id for monitor_id in reread if not changes.monitors.get(monitor_id)),
            lambda monitor_id: self.services.monitors.get(self.account_id, monitor_id),
        )
        for monitor_id in reread:
            monitor = fetched.get(monitor_id)
            if monitor is None:
                if self.monitors.pop(monitor_id, None) is not None:
                    delta.removed_monitors.add(monitor_id)
                continue
            item = self.monitors.get(monitor_id)
            if item is None:
                self.monitors[monitor_id] = MonitorItem(monitor, None, None)
            else:
                item.monitor = monitor
        now = time.monotonic()
        for monitor_id, check in checks.items():
            item = self.monitors.get(monitor_id)
            if item is None:
                continue
            item.last = check
            delta.checks.add(monitor_id)
            if now - item.uptime_read >= UPTIME_REFRESH_SECS:
                item.uptime = (await self.services.monitors.uptime(self.account_id, monitor_id)).get(monitor_id)
                item.uptime_read = now
        for monitor_id in reread | set(checks):
            if (item := self.monitors.get(monitor_id)) is not None:
                item.version = self._next()
                delta.monitors.add(monitor_id)

    # -- heartbeats --------------------------------------------------------------------------------
    async def _reload_heartbeats(self, delta: Delta) -> None:
        heartbeats = await self.services.heartbeats.list_all()
        seen = set()
        for heartbeat in heartbeats:
            seen.add(heartbeat.id)
            item = self.heartbeats.get(heartbeat.id)
            if item is None:
                self.heartbeats[heartbeat.id] = HeartbeatItem(heartbeat, self._next())
                delta.heartbeats.add(heartbeat.id)
            elif item.heartbeat != heartbeat:
                item.heartbeat, item.version = heartbeat, self._next()
                delta.heartbeats.add(heartbeat.id)
        self._drop(self.heartbeats, seen, delta.removed_heartbeats)

    async def _apply_heartbeats(self, changes: Changes, delta: Delta) -> None:
        ids = set(changes.heartbeats)
        if "heartbeats" in changes.reload or len(ids) > BULK:
            await self._reload_heartbeats(delta)
            delta.pings.update(changes.pings)
            return
        fetched = await self._fetch(
            (heartbeat_id for heartbeat_id in ids if not changes.heartbeats.get(heartbeat_id)),
            lambda heartbeat_id: self.services.heartbeats.get(changes.owners.get(heartbeat_id, ""), heartbeat_id),
        )
        for heartbeat_id in ids:
            heartbeat = fetched.get(heartbeat_id)
            if heartbeat is None:
                if self.heartbeats.pop(heartbeat_id, None) is not None:
                    delta.removed_heartbeats.add(heartbeat_id)
                continue
            item = self.heartbeats.get(heartbeat_id)
            if item is None:
                self.heartbeats[heartbeat_id] = HeartbeatItem(heartbeat, self._next())
            else:
                item.heartbeat, item.version = heartbeat, self._next()
            delta.heartbeats.add(heartbeat_id)
        delta.pings.update(changes.pings)

    # -- helpers -----------------------------------------------------------------------------------
    @staticmethod
    async def _fetch(ids: Iterable[str], get: Callable[[str], Awaitable[T]]) -> dict[str, T]:
        """Read each id; a NotFound means it is gone (deleted between the event and now)."""
        found: dict[str, T] = {}
        for entity_id in ids:
            with contextlib.suppress(NotFound):
                found[entity_id] = await get(entity_id)
        return found

    @staticmethod
    def _drop(items: dict[str, T], keep: set[str], removed: set[str]) -> None:
        for entity_id in [entity_id for entity_id in items if entity_id not in keep]:
            del items[entity_id]
            removed.add(entity_id)
