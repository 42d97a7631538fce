"""Alerts from the flips outbox: desktop notifications over a real session D-Bus, email over real SMTP, webhooks."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import RecordingEndpoint, make_settings
from tests.dbus_notifications import NotificationServer, SessionBus, serve_notifications
from tickstem_tui.clock import FakeClock, utc
from tickstem_tui.domain.alerts import Alert, Direction, alert_for
from tickstem_tui.domain.events import Event, Flipped, Notice
from tickstem_tui.domain.heartbeats import Face, HeartbeatSpec
from tickstem_tui.notify.webhooks import DiscordChannel, SlackChannel, TelegramChannel, WebhookChannel
from tickstem_tui.runtime import Runtime, http_session
from tickstem_tui.services.flips import record_flip


@pytest.fixture
def session_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionBus]:
    bus = SessionBus(tmp_path)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    yield bus
    bus.close()


@pytest.fixture
async def notifications(session_bus: SessionBus) -> AsyncIterator[NotificationServer]:
    bus, server = await serve_notifications(session_bus.address)
    yield server
    bus.disconnect()
    await bus.wait_for_disconnect()


async def fail_twice_then_recover(rt: Runtime, endpoint: RecordingEndpoint) -> None:
    owner = rt.services.accounts.owner_id
    job, _ = await rt.services.jobs.register(owner, {"name": "backup", "schedule": "@daily", "endpoint": endpoint.url})
    endpoint.status = 500
    for _ in range(3):  # the third failure changes nothing: no repeat while failing
        await rt.services.jobs.trigger(owner, job.id)
        await rt.executor.wait_idle()
    endpoint.status = 200
    await rt.services.jobs.trigger(owner, job.id)
    await rt.executor.wait_idle()


async def test_failing_and_recovery_reach_the_desktop_once_each(
    tmp_path: Path, notifications: NotificationServer, endpoint: RecordingEndpoint
) -> None:
    settings = make_settings(tmp_path, desktop_notifications=True)
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1))) as rt:
        await fail_twice_then_recover(rt, endpoint)
        received = await notifications.wait_for(2)
        await asyncio.sleep(0.1)
        assert len(notifications.received) == 2
        down, up = received
        assert (down.app_name, down.summary) == ("tickstem-tui", "Job “backup” is failing")
        assert "2 consecutive failed runs" in down.body and down.urgency == 2
        assert up.summary == "Job “backup” recovered" and up.urgency == 1
        rows = await rt.db.fetch_all("SELECT channel, ok FROM notifications ORDER BY id")
        assert [tuple(r) for r in rows] == [("desktop", 1), ("desktop", 1)]
        assert await rt.db.fetch_value("SELECT count(*) FROM flips WHERE processed_at IS NULL") == 0


async def test_without_a_desktop_session_it_says_so_once_and_carries_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: RecordingEndpoint
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus-here'}")
    notices: list[Event] = []
    settings = make_settings(tmp_path, desktop_notifications=True)
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1))) as rt:
        rt.bus.subscribe(lambda e: notices.append(e) if isinstance(e, Notice) else None)
        await fail_twice_then_recover(rt, endpoint)
        for _ in range(100):
            if await rt.db.fetch_value("SELECT count(*) FROM flips WHERE processed_at IS NULL") == 0:
                break
            await asyncio.sleep(0.02)
        assert len(notices) == 1 and "Desktop notifications are unavailable" in notices[0].message  # type: ignore[attr-defined]
        rows = await rt.db.fetch_all("SELECT channel, ok FROM notifications ORDER BY id")
        assert [tuple(r) for r in rows] == [("desktop", 0)]  # tried once, then left alone
        assert (await rt.services.jobs.list_jobs(rt.services.accounts.owner_id))[0].status.value == "active"


async def test_owner_alerts_are_emailed_through_smtp(
    tmp_path: Path, smtp_server: tuple[Controller, list[Any]], endpoint: RecordingEndpoint
) -> None:
    controller, received = smtp_server
    settings = make_settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_from="tickstem@localhost",
        alert_email="ops@example.test",
    )
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1))) as rt:
        await fail_twice_then_recover(rt, endpoint)
        for _ in range(200):
            if len(received) == 2:
                break
            await asyncio.sleep(0.02)
    assert [str(make_header(decode_header(m["Subject"]))) for m in received] == [
        "[tickstem-tui] Job “backup” is failing",
        "[tickstem-tui] Job “backup” recovered",
    ]
    assert (
        received[0]["To"] == "ops@example.test" and "HTTP 500 response" in received[0].get_payload(decode=True).decode()
    )


async def test_unprocessed_flips_are_sent_after_a_restart(tmp_path: Path, notifications: NotificationServer) -> None:
    settings = make_settings(tmp_path, desktop_notifications=False)
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1))) as rt:
        flip = Flipped("acct_owner", "monitor", "mon_1", "api", "active", "failing", "2 checks failed", utc(2026, 5, 1))
        await rt.db.write(lambda conn: record_flip(conn, flip))
        await rt.alerts.drain()  # processed with no channel configured: recorded, nothing sent
        await rt.db.write(lambda conn: record_flip(conn, flip))
    # A crash before processing leaves the flip pending; the next start sends it.
    async with Runtime(settings.replace(desktop_notifications=True), clock=FakeClock(utc(2026, 5, 1))) as rt:
        [received] = await notifications.wait_for(1)
        assert received.summary == "Monitor “api” is failing"


async def test_a_stop_during_a_delivery_lets_it_finish_and_be_recorded(
    tmp_path: Path, endpoint: RecordingEndpoint
) -> None:
    settings = make_settings(tmp_path, desktop_notifications=False)
    endpoint.delay = 0.5  # the webhook is still answering when the stop comes
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1))) as rt:
        heartbeat = await rt.services.heartbeats.create_from_spec(
            rt.services.accounts.owner_id,
            HeartbeatSpec("nightly"),
            face=Face.CRONSAFE,
            alert_channels=[{"type": "webhook", "url": f"{endpoint.url}/hook"}],
        )
        at = utc(2026, 5, 1)
        flip = Flipped(heartbeat.account_id, "heartbeat", heartbeat.id, "nightly", "up", "down", "late", at)
        await rt.db.write(lambda conn: record_flip(conn, flip))
        rt.bus.publish(flip)
        for _ in range(200):
            if endpoint.in_flight:
                break
            await asyncio.sleep(0.01)
        assert endpoint.in_flight == 1
    with closing(sqlite3.connect(settings.db_path)) as conn:
        assert conn.execute("SELECT count(*) FROM flips WHERE processed_at IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT channel, ok FROM notifications").fetchall() == [("webhook", 1)]
    async with Runtime(settings, clock=FakeClock(utc(2026, 5, 1))) as rt:  # nothing left to send again
        assert await rt.alerts.drain() == 0
    assert len(endpoint.calls) == 1


def test_only_flips_into_or_out_of_failure_alert() -> None:
    def flip(old: str, new: str) -> Flipped:
        return Flipped("a", "heartbeat", "hb", "n", old, new, "", utc(2026, 1, 1))

    assert alert_for(1, flip("active", "failing")).direction is Direction.DOWN  # type: ignore[union-attr]
    assert alert_for(1, flip("up", "down")).direction is Direction.DOWN  # type: ignore[union-attr]
    assert alert_for(1, flip("down", "up")).direction is Direction.UP  # type: ignore[union-attr]
    assert alert_for(1, flip("failing", "active")).direction is Direction.UP  # type: ignore[union-attr]
    for old, new in [("pending", "up"), ("new", "up"), ("active", "paused"), ("failing", "paused"), ("down", "down")]:
        assert alert_for(1, flip(old, new)) is None


async def test_webhook_slack_discord_and_telegram_payloads(tmp_path: Path, endpoint: RecordingEndpoint) -> None:
    alert = Alert(
        7, "u", "heartbeat", "3f0c…", "nightly-backup", Direction.DOWN, "missed 2 pings", utc(2026, 3, 26, 12)
    )
    session = http_session(make_settings(tmp_path))
    try:
        await WebhookChannel(session, f"{endpoint.url}/hook").send(alert)
        await SlackChannel(session, f"{endpoint.url}/slack").send(alert)
        await DiscordChannel(session, f"{endpoint.url}/discord").send(alert)
        await TelegramChannel(session, endpoint.url, "123:ABC", "-100").send(alert)
    finally:
        await session.close()
    hook, slack, discord, telegram = (json.loads(c.body) for c in endpoint.calls)
    assert hook == {
        "monitor_id": "3f0c…",
        "monitor_name": "nightly-backup",
        "status": "down",
        "message": '[CronSafe] Monitor "nightly-backup" is DOWN. missed 2 pings',
        "timestamp": "2026-03-26T12:00:00Z",
    }
    assert slack == {"text": "Heartbeat “nightly-backup” is failing: missed 2 pings"}
    assert discord["embeds"][0]["color"] == 0xEF4444 and discord["embeds"][0]["description"] == "missed 2 pings"
    assert endpoint.calls[3].path == "/bot123:ABC/sendMessage" and telegram["chat_id"] == "-100"


async def test_a_failing_webhook_is_a_delivery_error(tmp_path: Path, endpoint: RecordingEndpoint) -> None:
    from tickstem_tui.notify.base import DeliveryError

    endpoint.status, endpoint.body = 500, "nope"
    alert = Alert(1, "u", "job", "j", "n", Direction.UP, "", utc(2026, 1, 1))
    session = http_session(make_settings(tmp_path))
    try:
        with pytest.raises(DeliveryError, match="webhook answered HTTP 500: nope"):
            await WebhookChannel(session, endpoint.url).send(alert)
    finally:
        await session.close()
