"""Drains the flips outbox: each state change that deserves it becomes alerts on the right channels."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiohttp
import aiosqlite

from tickstem_tui.clock import Clock
from tickstem_tui.config import Settings
from tickstem_tui.domain.alerts import Alert, alert_for
from tickstem_tui.domain.events import Event, Flipped, Notice
from tickstem_tui.domain.times import from_ms, to_ms
from tickstem_tui.notify.base import Channel, DeliveryError
from tickstem_tui.notify.email import EmailChannel, SmtpConfig
from tickstem_tui.notify.webhooks import DiscordChannel, SlackChannel, TelegramChannel, WebhookChannel
from tickstem_tui.services.bus import EventBus
from tickstem_tui.store.accounts import OWNER_ACCOUNT_ID
from tickstem_tui.store.database import Database

log = logging.getLogger(__name__)

BATCH = 50


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host or not settings.smtp_from:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )


class AlertDispatcher:
    """At-least-once: a flip is marked processed only after its channels were tried, so a crash re-sends."""

    def __init__(
        self,
        db: Database,
        session: aiohttp.ClientSession,
        bus: EventBus,
        clock: Clock,
        settings: Settings,
        desktop: Channel | None,
    ) -> None:
        self._db = db
        self._session = session
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._smtp = smtp_config(settings)
        self._desktop = desktop if settings.desktop_notifications else None
        self._wake = asyncio.Event()
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Flipped):
            self._wake.set()

    async def run(self) -> None:
        self._wake.set()  # a backlog left by a previous run goes out first
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.drain()

    async def drain(self) -> int:
        """Process every pending flip; returns how many were processed."""
        done = 0
        while rows := await self._db.fetch_all(
            "SELECT * FROM flips WHERE processed_at IS NULL ORDER BY id LIMIT ?", (BATCH,)
        ):
            for row in rows:
                await self._process_to_the_end(row)
                done += 1
        return done

    async def _process_to_the_end(self, row: aiosqlite.Row) -> None:
        """One flip, finished even when the dispatcher is stopped meanwhile (for up to the shutdown timeout).

        A stop between a delivery and its record would leave the flip pending, and the next start would
        send the same alert again.
        """
        task = asyncio.ensure_future(self._process(row))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            done, _ = await asyncio.wait({task}, timeout=self._settings.shutdown_timeout_secs)
            if not done:
                task.cancel()
                await asyncio.wait({task})  # over before the stop returns and the database closes
            if not task.cancelled() and (error := task.exception()) is not None:
                log.error("alert for flip %s failed during the stop", row["id"], exc_info=error)
            raise

    async def _process(self, row: aiosqlite.Row) -> None:
        flip = Flipped(
            account_id=row["account_id"],
            subject_kind=row["subject_kind"],
            subject_id=row["subject_id"],
            subject_name=row["subject_name"],
            old_status=row["old_status"],
            new_status=row["new_status"],
            reason=row["reason"],
            at=from_ms(row["created_at"]),
        )
        alert = alert_for(row["id"], flip)
        outcomes: Sequence[tuple[Channel, str | None]] = []
        if alert is not None:
            channels = await self._channels_for(alert)
            outcomes = await asyncio.gather(*(self._deliver(channel, alert) for channel in channels))
        now = self._clock.now()

        async def record(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "UPDATE flips SET processed_at = ? WHERE id = ? AND processed_at IS NULL", (to_ms(now), row["id"])
            )
            await conn.executemany(
                "INSERT INTO notifications (flip_id, channel, target, ok, error, created_at) VALUES (?,?,?,?,?,?)",
                [
                    (row["id"], channel.kind, channel.target, int(error is None), error or "", to_ms(now))
                    for channel, error in outcomes
                ],
            )

        await self._db.write(record)

    async def _deliver(self, channel: Channel, alert: Alert) -> tuple[Channel, str | None]:
        try:
            await channel.send(alert)
        except DeliveryError as exc:
            log.warning("alert %s via %s failed: %s", alert.flip_id, channel.kind, exc)
            if channel is self._desktop:
                # Said once; the console keeps showing alerts as toasts.
                self._desktop = None
                self._bus.publish(
                    Notice(f"Desktop notifications are unavailable ({exc}); alerts still show here.", "warning")
                )
            return channel, str(exc)
        except Exception as exc:
            log.exception("alert %s via %s crashed", alert.flip_id, channel.kind)
            return channel, f"internal error: {exc}"
        return channel, None

    async def _channels_for(self, alert: Alert) -> list[Channel]:
        channels: list[Channel] = []
        if alert.account_id == OWNER_ACCOUNT_ID:
            if self._desktop is not None:
                channels.append(self._desktop)
            if self._settings.alert_email:
                channels.append(EmailChannel(self._smtp, self._settings.alert_email))
        if alert.subject_kind == "heartbeat":
            raw = await self._db.fetch_value("SELECT alert_channels FROM heartbeats WHERE id = ?", (alert.subject_id,))
            for config in json.loads(raw or "[]"):
                channel = self.channel_from_config(config)
                if channel is not None:
                    channels.append(channel)
        return channels

    def channel_from_config(self, config: dict[str, Any]) -> Channel | None:
        """A CronSafe alert channel object (validated on input) as something that can send."""
        kind = config.get("type")
        if kind == "email":
            return EmailChannel(self._smtp, str(config["address"]))
        if kind == "slack":
            return SlackChannel(self._session, str(config["webhook_url"]))
        if kind == "discord":
            return DiscordChannel(self._session, str(config["webhook_url"]))
        if kind == "webhook":
            return WebhookChannel(self._session, str(config["url"]))
        if kind == "telegram":
            return TelegramChannel(
                self._session, self._settings.telegram_api_base, str(config["bot_token"]), str(config["chat_id"])
            )
        log.warning("unknown alert channel type %r", kind)
        return None

    async def prune(self, before: datetime) -> int:
        """Processed flips (and their delivery records) older than `before`."""
        return await self._db.execute(
            "DELETE FROM flips WHERE processed_at IS NOT NULL AND created_at < ?", (to_ms(before),)
        )
