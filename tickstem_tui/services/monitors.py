"""Uptime monitor operations shared by the REST API and the TUI: create, edit, pause, delete, history, uptime."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiosqlite

from tickstem_tui.clock import Clock
from tickstem_tui.config import Settings
from tickstem_tui.domain.errors import NotFound, ValidationError
from tickstem_tui.domain.events import MonitorChanged
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.monitors import (
    Monitor,
    MonitorCheck,
    MonitorStatus,
    Uptime,
    parse_spec,
    parse_status_change,
    replan,
    with_status,
)
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.poller import Poller
from tickstem_tui.store.database import Database
from tickstem_tui.store.monitors import MonitorRepository, load_monitor, save_monitor

MONITOR_NOT_FOUND = "monitor not found"


class MonitorService:
    def __init__(
        self,
        db: Database,
        repo: MonitorRepository,
        poller: Poller,
        bus: EventBus,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._db = db
        self.repo = repo
        self.poller = poller
        self._bus = bus
        self._clock = clock
        self._settings = settings

    async def get(self, account_id: str, monitor_id: str) -> Monitor:
        monitor = await self.repo.get(account_id, monitor_id)
        if monitor is None:
            raise NotFound(MONITOR_NOT_FOUND)
        return monitor

    async def list_monitors(self, account_id: str) -> list[Monitor]:
        return await self.repo.for_account(account_id)

    async def create(self, account_id: str, data: dict[str, Any]) -> Monitor:
        """A new monitor, active, first check due at once."""
        spec = parse_spec(data, self._settings.min_monitor_interval_secs)
        now = self._clock.now()
        monitor = Monitor(
            id=new_id("mon"),
            account_id=account_id,
            spec=spec,
            status=MonitorStatus.ACTIVE,
            consecutive_failures=0,
            ssl_expires_at=None,
            next_check_at=now,
            last_checked_at=None,
            last_check_status=None,
            created_at=now,
            updated_at=now,
        )

        async def run(conn: aiosqlite.Connection) -> None:
            await save_monitor(conn, monitor)

        await self._db.write(run)
        return self._changed(monitor)

    async def update(self, account_id: str, monitor_id: str, data: dict[str, Any]) -> Monitor:
        """Merge the given fields (absent ones keep their values; `assertions` replaces the list); `status` optional."""
        if not isinstance(data, dict):
            raise ValidationError("request body must be a JSON object")
        status = parse_status_change(data["status"]) if data.get("status") is not None else None
        now = self._clock.now()
        min_interval = self._settings.min_monitor_interval_secs

        async def run(conn: aiosqlite.Connection) -> Monitor:
            current = await self._current(conn, account_id, monitor_id)
            spec = parse_spec(data, min_interval, base=current.spec)
            monitor = replace(current, spec=spec, updated_at=now)
            if status is not None:
                monitor = with_status(monitor, status, now)
            monitor = replace(monitor, next_check_at=replan(monitor, current.spec, now))
            if spec.url != current.spec.url and not spec.is_https:
                monitor = replace(monitor, ssl_expires_at=None)
            await save_monitor(conn, monitor)
            return monitor

        return self._changed(await self._db.write(run))

    async def set_status(self, account_id: str, monitor_id: str, status: MonitorStatus) -> Monitor:
        return await self.update(account_id, monitor_id, {"status": status.value})

    async def pause(self, account_id: str, monitor_id: str) -> Monitor:
        """Stop checking (and so alerting) until resumed."""
        return await self.set_status(account_id, monitor_id, MonitorStatus.PAUSED)

    async def resume(self, account_id: str, monitor_id: str) -> Monitor:
        """Check again, starting from a clean slate: active, failure count reset."""
        return await self.set_status(account_id, monitor_id, MonitorStatus.ACTIVE)

    async def delete(self, account_id: str, monitor_id: str) -> None:
        """Remove the monitor and, with it, its checks and roll-ups."""
        changed = await self._db.execute(
            "DELETE FROM monitors WHERE id = ? AND account_id = ?", (monitor_id, account_id)
        )
        if changed == 0:
            raise NotFound(MONITOR_NOT_FOUND)
        self.poller.forget(monitor_id)
        self._bus.publish(MonitorChanged(account_id, monitor_id, deleted=True))

    async def checks(self, account_id: str, monitor_id: str, limit: int, offset: int) -> list[MonitorCheck]:
        """Check history, newest first."""
        await self.get(account_id, monitor_id)
        return await self.repo.checks(monitor_id, limit, offset)

    async def latest_checks(self, account_id: str) -> dict[str, MonitorCheck]:
        """The newest check of each of the account's monitors, by monitor id (the console's "last response")."""
        return await self.repo.latest_checks(account_id)

    async def uptime(self, account_id: str, monitor_id: str | None = None) -> dict[str, Uptime]:
        """Uptime per monitor id for the account (or one monitor), from hourly roll-ups."""
        return await self.repo.uptime(account_id, self._clock.now(), monitor_id)

    async def check_now(self, account_id: str, monitor_id: str) -> MonitorCheck | None:
        """Run a check outside the schedule (the TUI's "check now"); None if the monitor vanished meanwhile."""
        return await self.poller.check_now(await self.get(account_id, monitor_id))

    async def _current(self, conn: aiosqlite.Connection, account_id: str, monitor_id: str) -> Monitor:
        monitor = await load_monitor(conn, monitor_id, account_id)
        if monitor is None:
            raise NotFound(MONITOR_NOT_FOUND)
        return monitor

    def _changed(self, monitor: Monitor) -> Monitor:
        self.poller.track(monitor)
        self._bus.publish(MonitorChanged(monitor.account_id, monitor.id))
        return monitor
