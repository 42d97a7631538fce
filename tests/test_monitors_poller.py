"""The uptime poller in fake time against real loopback targets: outcomes, timeouts, TLS, the state machine."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import ssl
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from tests.conftest import eventually, make_settings
from tests.monitors_support import Collector, Target, serve_target
from tickstem_tui.clock import FakeClock, settle, utc
from tickstem_tui.domain.monitors import CheckStatus, Monitor, MonitorStatus
from tickstem_tui.runtime import Runtime
from tickstem_tui.services.poller import MAX_BODY_BYTES

OWNER = "acct_owner"
T0 = utc(2026, 5, 1, 11, 58, 30)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    async with serve_target() as served:
        yield served


@pytest.fixture
async def rt(tmp_path: Path, fake_clock: FakeClock) -> AsyncIterator[Runtime]:
    async with Runtime(make_settings(tmp_path, check_retention_days=1), clock=fake_clock) as runtime:
        yield runtime


@pytest.fixture
def events(rt: Runtime) -> Collector:
    return Collector(rt)


async def create(rt: Runtime, url: str, **fields: Any) -> Monitor:
    return await rt.services.monitors.create(OWNER, {"name": fields.pop("name", "svc"), "url": url, **fields})


async def flips(rt: Runtime, monitor_id: str) -> list[tuple[str, str, str]]:
    rows = await rt.db.fetch_all(
        "SELECT old_status, new_status, reason FROM flips WHERE subject_kind = 'monitor' AND subject_id = ? "
        "ORDER BY id",
        (monitor_id,),
    )
    return [(r[0], r[1], r[2]) for r in rows]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_outcomes_of_a_first_check(rt: Runtime, target: Target, events: Collector) -> None:
    target.set("/gone", status=500)
    port = closed_port()
    cases: list[tuple[str, dict[str, Any], CheckStatus, int | None, str]] = [
        (target.url("/ok"), {}, CheckStatus.UP, 200, ""),
        (target.url("/empty", status=204, body=""), {}, CheckStatus.UP, 204, ""),
        (target.url("/moved", status=301, headers={"Location": "/gone"}), {}, CheckStatus.UP, 301, ""),
        (target.url("/missing", status=404), {}, CheckStatus.DOWN, 404, "HTTP 404 response"),
        (target.url("/broken", status=503, body="busy"), {}, CheckStatus.DOWN, 503, "HTTP 503 response"),
        (f"http://127.0.0.1:{port}/", {}, CheckStatus.DOWN, None, f"connection to 127.0.0.1:{port} failed"),
        ("http://no-such-host.invalid/", {}, CheckStatus.DOWN, None, "DNS lookup failed for no-such-host.invalid"),
        (
            target.url("/json", body='{"status":"ok"}'),
            {"assertions": [{"source": "body", "comparison": "contains", "target": '"ok"'}]},
            CheckStatus.UP,
            200,
            "",
        ),
        (
            target.url("/json"),
            {"assertions": [{"source": "body", "comparison": "not_contains", "target": "ok"}]},
            CheckStatus.DOWN,
            200,
            "assertion failed: body not_contains 'ok' (body was '{\"status\":\"ok\"}')",
        ),
        (
            target.url("/teapot", status=418),
            {"assertions": [{"source": "status_code", "comparison": "eq", "target": "418"}]},
            CheckStatus.UP,
            418,
            "",
        ),
        (
            target.url("/ok"),
            {
                "assertions": [
                    {"source": "status_code", "comparison": "eq", "target": "201"},
                    {"source": "response_time", "comparison": "lt", "target": "100000"},
                ]
            },
            CheckStatus.DOWN,
            200,
            "assertion failed: status_code eq '201' (got 200)",
        ),
        (
            target.url("/big", body="x" * (MAX_BODY_BYTES + 10) + "needle"),
            {"assertions": [{"source": "body", "comparison": "contains", "target": "needle"}]},
            CheckStatus.DOWN,
            200,
            "assertion failed: body contains 'needle'",
        ),
    ]
    monitors = [await create(rt, url, name=f"case {i}", **fields) for i, (url, fields, *_) in enumerate(cases)]
    await events.wait_checks(len(cases))
    for monitor, (url, _, status, code, error) in zip(monitors, cases, strict=True):
        [check] = await rt.services.monitors.checks(OWNER, monitor.id, 10, 0)
        assert (check.status, check.status_code) == (status, code), url
        assert check.error.startswith(error) and bool(check.error) is bool(error), (url, check.error)
        assert check.checked_at == T0 and isinstance(check.duration_ms, int) and check.ssl_expires_at is None
    assert target.hits.get("/gone", 0) == 0, "redirects are not followed"


async def waiting_at(target: Target, count: int = 1) -> None:
    """Until `count` requests are being held by the target (so a check is in flight)."""

    async def held() -> bool:
        return target.in_flight >= count

    await eventually(held)


async def test_no_answer_within_the_timeout_is_a_timeout(
    rt: Runtime, fake_clock: FakeClock, target: Target, events: Collector
) -> None:
    monitor = await create(rt, target.url("/slow", delay=60), timeout_secs=5)
    await waiting_at(target)
    await fake_clock.advance(4.9)
    assert events.checks() == []
    await fake_clock.advance(0.1)
    [event] = await events.wait_checks(1)
    assert event.status == "timeout"
    [check] = await rt.services.monitors.checks(OWNER, monitor.id, 10, 0)
    assert (check.status, check.status_code, check.duration_ms) == (CheckStatus.TIMEOUT, None, 5000)
    assert check.error == "no response within 5s"
    assert (await rt.services.monitors.get(OWNER, monitor.id)).consecutive_failures == 1


async def test_two_failures_flip_to_failing_and_one_success_recovers(
    rt: Runtime, fake_clock: FakeClock, target: Target, events: Collector
) -> None:
    monitor = await create(rt, target.url("/svc", status=500), interval_secs=60)
    service = rt.services.monitors

    await events.wait_checks(1)
    first = await service.get(OWNER, monitor.id)
    assert (first.status, first.consecutive_failures) == (MonitorStatus.ACTIVE, 1)
    assert first.last_checked_at == T0 and first.next_check_at == T0 + timedelta(seconds=60)
    # The poller sleeps until the next due check: the earliest wake-up anyone asked for.
    assert fake_clock.next_wakeup == T0 + timedelta(seconds=60)
    assert await flips(rt, monitor.id) == []

    await fake_clock.advance(60)
    await events.wait_checks(2)
    second = await service.get(OWNER, monitor.id)
    assert (second.status, second.consecutive_failures) == (MonitorStatus.FAILING, 2)
    [(old, new, reason)] = await flips(rt, monitor.id)
    assert (old, new) == ("active", "failing")
    assert reason == "2 consecutive failed checks; last: down: HTTP 500 response"
    [flip] = events.flips()
    assert (flip.subject_kind, flip.subject_id, flip.new_status, flip.at) == (
        "monitor",
        monitor.id,
        "failing",
        T0 + timedelta(seconds=60),
    )

    await fake_clock.advance(60)
    await events.wait_checks(3)
    assert len(await flips(rt, monitor.id)) == 1, "still failing: no second alert"

    target.set("/svc", status=200)
    await fake_clock.advance(60)
    await events.wait_checks(4)
    recovered = await service.get(OWNER, monitor.id)
    assert (recovered.status, recovered.consecutive_failures) == (MonitorStatus.ACTIVE, 0)
    transitions = await flips(rt, monitor.id)
    assert [(o, n) for o, n, _ in transitions] == [("active", "failing"), ("failing", "active")]
    assert transitions[1][2].startswith("check succeeded (HTTP 200 in ")
    checks = await service.checks(OWNER, monitor.id, 10, 0)
    assert [c.checked_at for c in checks] == [T0 + timedelta(seconds=60 * i) for i in (3, 2, 1, 0)]
    assert [c.status for c in checks] == [CheckStatus.UP, CheckStatus.DOWN, CheckStatus.DOWN, CheckStatus.DOWN]
    assert [e.monitor_status for e in events.checks()] == ["active", "failing", "failing", "active"]
    assert rt.poller.lateness_ms == [0.0, 0.0, 0.0, 0.0]
    assert target.hits["/svc"] == 4


async def test_a_monitor_changed_elsewhere_between_checks_is_read_again(
    rt: Runtime, fake_clock: FakeClock, target: Target, events: Collector
) -> None:
    monitor = await create(rt, target.url("/svc", status=500), interval_secs=60)
    await events.wait_checks(1)

    # The poller remembers the monitor as its check left it (one failure). Another process clears the
    # streak with plain SQL: the row's version moves on (a trigger), so the next check reads the row
    # instead of counting from memory, and one more failure is not yet two in a row.
    def reset_elsewhere() -> None:
        with closing(sqlite3.connect(rt.db.path)) as other, other:
            other.execute("UPDATE monitors SET consecutive_failures = 0, name = 'renamed' WHERE id = ?", (monitor.id,))

    await asyncio.to_thread(reset_elsewhere)
    await fake_clock.advance(60)
    await events.wait_checks(2)
    after = await rt.services.monitors.get(OWNER, monitor.id)
    assert (after.status, after.consecutive_failures, after.name) == (MonitorStatus.ACTIVE, 1, "renamed")
    assert await flips(rt, monitor.id) == []

    # Left alone, the next failure counts from memory: two in a row, failing.
    await fake_clock.advance(60)
    await events.wait_checks(3)
    assert (await rt.services.monitors.get(OWNER, monitor.id)).status is MonitorStatus.FAILING


async def test_pause_stops_checks_and_resume_resets_the_count(
    rt: Runtime, fake_clock: FakeClock, target: Target, events: Collector
) -> None:
    monitor = await create(rt, target.url("/svc", status=503))
    service = rt.services.monitors
    await events.wait_checks(1)
    assert (await service.get(OWNER, monitor.id)).consecutive_failures == 1

    paused = await service.pause(OWNER, monitor.id)
    assert (paused.status, paused.next_check_at) == (MonitorStatus.PAUSED, None)
    await fake_clock.advance(timedelta(minutes=10))
    await settle()
    assert target.hits["/svc"] == 1 and len(events.checks()) == 1 and await flips(rt, monitor.id) == []

    resumed = await service.resume(OWNER, monitor.id)
    assert (resumed.status, resumed.consecutive_failures) == (MonitorStatus.ACTIVE, 0)
    assert resumed.next_check_at == fake_clock.now()
    await events.wait_checks(2)
    after = await service.get(OWNER, monitor.id)
    assert (after.status, after.consecutive_failures) == (MonitorStatus.ACTIVE, 1), "one failure since resuming"
    assert await flips(rt, monitor.id) == []

    await fake_clock.advance(60)
    await events.wait_checks(3)
    assert (await service.get(OWNER, monitor.id)).status is MonitorStatus.FAILING
    assert len(await flips(rt, monitor.id)) == 1


async def test_a_check_in_flight_when_paused_is_kept_but_changes_nothing(
    rt: Runtime, target: Target, events: Collector
) -> None:
    monitor = await create(rt, target.url("/slow", status=500, delay=30))
    await waiting_at(target)
    await rt.services.monitors.pause(OWNER, monitor.id)
    target.release.set()
    await events.wait_checks(1)
    after = await rt.services.monitors.get(OWNER, monitor.id)
    assert (after.status, after.consecutive_failures, after.next_check_at) == (MonitorStatus.PAUSED, 0, None)
    assert [c.status for c in await rt.services.monitors.checks(OWNER, monitor.id, 10, 0)] == [CheckStatus.DOWN]


async def test_deleting_during_a_check_discards_it(rt: Runtime, target: Target) -> None:
    monitor = await create(rt, target.url("/slow", delay=30))
    await waiting_at(target)
    await rt.services.monitors.delete(OWNER, monitor.id)
    target.release.set()
    await rt.poller.wait_idle()
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM monitor_checks") == 0
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM monitor_hourly") == 0


async def test_concurrency_is_bounded_and_queueing_is_not_counted_as_slowness(
    tmp_path: Path, fake_clock: FakeClock, target: Target
) -> None:
    async with Runtime(make_settings(tmp_path, poller_concurrency=2), clock=fake_clock) as runtime:
        events = Collector(runtime)
        for i in range(6):
            await create(runtime, target.url(f"/s{i}", delay=0.2), name=f"s{i}")
        recorded = await events.wait_checks(6)
    assert target.max_in_flight == 2
    # The last two waited 0.4 s for a slot; each check's own time is still the ~0.2 s the target took.
    assert all(200 <= e.duration_ms < 390 for e in recorded), [e.duration_ms for e in recorded]


async def test_state_and_plan_survive_a_restart(tmp_path: Path, target: Target) -> None:
    clock = FakeClock(T0)
    settings = make_settings(tmp_path)
    async with Runtime(settings, clock=clock) as first:
        collector = Collector(first)
        monitor = await create(first, target.url("/down", status=500))
        await collector.wait_checks(1)
    clock = FakeClock(T0 + timedelta(minutes=30))
    async with Runtime(settings, clock=clock) as second:
        events = Collector(second)
        # Overdue while stopped: checked at once on start, not replayed once per missed interval.
        await events.wait_checks(1)
        after = await second.services.monitors.get(OWNER, monitor.id)
        assert (after.status, after.consecutive_failures) == (MonitorStatus.FAILING, 2)
        assert after.next_check_at == clock.now() + timedelta(seconds=60)
        assert [(o, n) for o, n, _ in await flips(second, monitor.id)] == [("active", "failing")]
    assert target.hits["/down"] == 2


async def test_uptime_comes_from_hourly_rollups_that_outlive_raw_checks(
    rt: Runtime, fake_clock: FakeClock, target: Target, events: Collector
) -> None:
    monitor = await create(rt, target.url("/flaky"))
    service = rt.services.monitors
    for count, status in enumerate((200, 200, 200, 500), start=1):
        target.set("/flaky", status=status)
        if count > 1:
            await fake_clock.advance(60)
        await events.wait_checks(count)
    # Checks at 11:58:30, 11:59:30, 12:00:30 and 12:01:30: two hourly buckets.
    rollups = await service.repo.rollups(monitor.id)
    assert [(hour, checks, up) for hour, checks, up, _ in rollups] == [
        (utc(2026, 5, 1, 11), 2, 2),
        (utc(2026, 5, 1, 12), 2, 1),
    ]
    recorded = await service.checks(OWNER, monitor.id, 10, 0)
    assert sum(total for *_, total in rollups) == sum(c.duration_ms for c in recorded)
    uptime = (await service.uptime(OWNER))[monitor.id]
    assert (uptime.day, uptime.week, uptime.month) == (75.0, 75.0, 75.0)

    await service.pause(OWNER, monitor.id)
    await fake_clock.advance(timedelta(days=2))
    await rt.retention.prune_once()
    assert await service.checks(OWNER, monitor.id, 10, 0) == []  # raw checks pruned (retention 1 day)
    assert len(await service.repo.rollups(monitor.id)) == 2
    uptime = (await service.uptime(OWNER))[monitor.id]
    assert (uptime.day, uptime.week, uptime.month) == (None, 75.0, 75.0)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


async def test_https_records_the_certificate_expiry(tmp_path: Path, fake_clock: FakeClock, ca: trustme.CA) -> None:
    not_after = utc(2031, 6, 1, 12)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", not_after=not_after).configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    async with serve_target(server_context) as tls:
        url = tls.url("/health")
        async with Runtime(make_settings(tmp_path, monitor_ca_file=ca_file), clock=fake_clock) as runtime:
            collector = Collector(runtime)
            monitor = await create(runtime, url)
            await collector.wait_checks(1)
            [check] = await runtime.services.monitors.checks(OWNER, monitor.id, 10, 0)
            expected = not_after
            assert (check.status, check.status_code, check.ssl_expires_at) == (CheckStatus.UP, 200, expected)
            assert (await runtime.services.monitors.get(OWNER, monitor.id)).ssl_expires_at == expected

            tls.set("/health", status=500)
            await fake_clock.advance(60)
            await collector.wait_checks(2)
            assert (await runtime.services.monitors.get(OWNER, monitor.id)).ssl_expires_at == expected

        # Without the CA the certificate is untrusted: the check is down and says why.
        async with Runtime(make_settings(tmp_path / "plain"), clock=fake_clock) as untrusting:
            collector = Collector(untrusting)
            monitor = await create(untrusting, url)
            await collector.wait_checks(1)
            [check] = await untrusting.services.monitors.checks(OWNER, monitor.id, 10, 0)
            assert check.status is CheckStatus.DOWN and check.status_code is None
            assert check.error.startswith("TLS certificate rejected"), check.error
            assert "certificate verify failed" in check.error


async def test_a_certificate_close_to_expiry_is_emailed_once(
    tmp_path: Path, ca: trustme.CA, smtp_server: tuple[Controller, list[Any]]
) -> None:
    controller, received = smtp_server
    now = datetime.now(UTC).replace(microsecond=0)
    not_after = now + timedelta(days=10, hours=1)  # real time: the TLS handshake checks it against the real clock
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", not_after=not_after).configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings = make_settings(
        tmp_path,
        monitor_ca_file=ca_file,
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_from="tickstem@localhost",
        alert_email="ops@example.test",
    )
    clock = FakeClock(now)

    async def one_email() -> bool:
        return len(received) == 1

    async with serve_target(server_context) as tls:
        async with Runtime(settings, clock=clock) as runtime:
            collector = Collector(runtime)
            monitor = await create(runtime, tls.url("/health"), name="shop")
            for count in (1, 2, 3):  # every check finds the same certificate
                await collector.wait_checks(count)
                await clock.advance(60)
            await eventually(one_email)
        async with Runtime(settings, clock=clock) as runtime:  # a restart does not warn again
            collector = Collector(runtime)
            await clock.advance(60)
            await collector.wait_checks(1)
            await runtime.alerts.drain()
            assert [flip[:2] for flip in await flips(runtime, monitor.id)] == [
                ("certificate ok", "certificate expiring")
            ]
    [message] = received
    subject = str(make_header(decode_header(message["Subject"])))
    assert subject.startswith("[tickstem-tui] Monitor “shop”: TLS certificate expires in 10 days ("), subject
    assert message["To"] == "ops@example.test"
