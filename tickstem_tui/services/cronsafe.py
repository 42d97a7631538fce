"""CronSafe monitors as the shared heartbeats seen through CronSafe's rules: ownership is 403, limits are 403."""

from __future__ import annotations

from typing import Any

from tickstem_tui.config import Settings
from tickstem_tui.domain.cronsafe import parse_monitor
from tickstem_tui.domain.errors import Forbidden, NotFound, QuotaExceeded
from tickstem_tui.domain.heartbeats import Face, Heartbeat, PingKind, PingRecord
from tickstem_tui.services.heartbeats import HeartbeatService, PingResult
from tickstem_tui.store.database import Database

MONITOR_NOT_FOUND = "Monitor not found"
LIMIT_REACHED = "Monitor limit reached. Upgrade your plan."
NOT_YOURS = "You do not have access to this monitor"


class CronSafeService:
    def __init__(self, db: Database, heartbeats: HeartbeatService, settings: Settings) -> None:
        self._db = db
        self._heartbeats = heartbeats
        self._settings = settings

    async def list_monitors(self, account_id: str) -> list[Heartbeat]:
        return await self._heartbeats.list_heartbeats(account_id, Face.CRONSAFE, newest_first=True)

    async def get(self, account_id: str, monitor_id: str) -> Heartbeat:
        try:
            return await self._heartbeats.get(account_id, monitor_id, Face.CRONSAFE)
        except NotFound:
            raise await self._missing(monitor_id) from None

    async def create(self, account_id: str, data: dict[str, Any]) -> Heartbeat:
        parsed = parse_monitor(data)
        limit = self._settings.cronsafe_max_monitors
        if limit:
            count = await self._db.fetch_value(
                "SELECT COUNT(*) FROM heartbeats WHERE account_id = ? AND face = 'cronsafe'", (account_id,)
            )
            if count >= limit:
                raise QuotaExceeded(LIMIT_REACHED)
        return await self._heartbeats.create_from_spec(
            account_id, parsed.spec, face=Face.CRONSAFE, slug=parsed.slug, alert_channels=parsed.alert_channels or []
        )

    async def update(self, account_id: str, monitor_id: str, data: dict[str, Any]) -> Heartbeat:
        current = await self.get(account_id, monitor_id)
        parsed = parse_monitor(data, base=current.spec)
        return await self._heartbeats.update_spec(
            account_id, monitor_id, parsed.spec, alert_channels=parsed.alert_channels, face=Face.CRONSAFE
        )

    async def delete(self, account_id: str, monitor_id: str) -> None:
        await self.get(account_id, monitor_id)
        await self._heartbeats.delete(account_id, monitor_id, Face.CRONSAFE)

    async def pings(self, account_id: str, monitor_id: str, limit: int, offset: int) -> list[PingRecord]:
        await self.get(account_id, monitor_id)
        return await self._heartbeats.pings(account_id, monitor_id, limit, offset, Face.CRONSAFE)

    async def ping(
        self, slug: str, kind: PingKind, output: str | None, ip: str | None, user_agent: str | None
    ) -> PingResult:
        try:
            return await self._heartbeats.ping_slug(slug, kind=kind, output=output, ip=ip, user_agent=user_agent)
        except NotFound:
            raise NotFound(MONITOR_NOT_FOUND) from None

    async def badge_status(self, slug: str) -> str | None:
        """The CronSafe status behind a badge, or None for an unknown slug (badges never 404)."""
        row = await self._db.fetch_one("SELECT state FROM heartbeats WHERE slug = ?", (slug,))
        if row is None:
            return None
        return {"up": "up", "down": "down"}.get(row["state"], "pending")

    async def _missing(self, monitor_id: str) -> Exception:
        exists = await self._db.fetch_value(
            "SELECT 1 FROM heartbeats WHERE id = ? AND face = 'cronsafe'", (monitor_id,)
        )
        return Forbidden(NOT_YOURS) if exists else NotFound(MONITOR_NOT_FOUND)
