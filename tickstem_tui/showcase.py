"""Sample data and the console running on it, on a fake clock: for screenshots, snapshot tests and benchmarks.

The sample rows are written straight into the store with fixed ids and times, so every screenshot is the
same byte for byte; nothing is scheduled (each deadline lies after the frozen "now"), so no service acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiosqlite

from tickstem_tui.clock import FakeClock, utc
from tickstem_tui.config import Settings
from tickstem_tui.domain.monitors import hour_start
from tickstem_tui.domain.schedule import Schedule
from tickstem_tui.domain.times import to_ms
from tickstem_tui.runtime import Runtime
from tickstem_tui.store.accounts import OWNER_ACCOUNT_ID
from tickstem_tui.store.database import Database
from tickstem_tui.store.heartbeats import LINK_PING_CHAINS
from tickstem_tui.tui.app import TickstemApp
from tickstem_tui.tui.bridge import FeedItem

NOW = utc(2026, 5, 1, 12, 0, 0)
"""The frozen moment every sample is seen from."""
SAMPLE_URL = "http://127.0.0.1:8090"
SAMPLE_KEY = "tsk_live_sampleKEYsampleKEYsampleKEYsample"
SCREEN_SIZE = (120, 36)
SCREENSHOTS: dict[str, tuple[str, ...]] = {
    "overview": (),
    "jobs": (),
    "monitors": ("down", "down"),  # the failing monitor, with its checks and sparkline
    "heartbeats": (),
    "verify": ("escape", "down", "enter"),  # a history entry's four checks
}
"""Screen → keys pressed before the shot."""


def _token(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    schedule: str
    endpoint: str
    status: str = "active"
    failures: int = 0
    fail_last: int = 0
    """How many of the most recent runs failed."""
    slow: int = 300


_JOBS = (
    _Job("nightly-backup", "0 2 * * *", "https://backup.example.com/run", "failing", 2, 2, 4200),
    _Job("send-digest", "0 8 * * 1-5", "https://app.example.com/hooks/digest", slow=840),
    _Job("cleanup-tmp", "*/15 * * * *", "https://app.example.com/hooks/cleanup", slow=120),
    _Job("sync-crm", "*/5 * * * *", "https://crm.example.com/api/sync", slow=1250),
    _Job("invoice-run", "0 6 1 * *", "https://billing.example.com/invoices", "paused", slow=2300),
    _Job("warm-cache", "*/10 * * * *", "https://www.example.com/warm", fail_last=1, slow=900),
    _Job("report-weekly", "30 9 * * 1", "https://reports.example.com/weekly", slow=5100),
)


@dataclass(frozen=True, slots=True)
class _Monitor:
    name: str
    url: str
    interval: int
    status: str = "active"
    failing_checks: int = 0
    cert_days: int | None = 74
    typical_ms: int = 120
    down_hours: tuple[int, ...] = ()
    """Hours ago (within 30 days) that had failed checks, for the uptime figures."""


_MONITORS = (
    _Monitor("api", "https://api.example.com/health", 60, typical_ms=118, down_hours=(200,)),
    _Monitor("website", "https://www.example.com/", 300, cert_days=9, typical_ms=240),
    _Monitor("payments", "https://pay.example.com/status", 60, "failing", 3, 41, 310, down_hours=(0, 1, 300, 301)),
    _Monitor("status-page", "http://status.internal:8080/", 120, cert_days=None, typical_ms=35),
    _Monitor("legacy-gateway", "https://legacy.example.com/ping", 600, "paused", cert_days=180, typical_ms=640),
)


async def seed(db: Database, now: datetime = NOW) -> None:
    """Write the sample account's jobs, monitors, heartbeats and history (fixed ids, fixed times)."""
    rnd = random.Random(20260501)

    async def write(conn: aiosqlite.Connection) -> None:
        await _seed_jobs(conn, now, rnd)
        await _seed_monitors(conn, now, rnd)
        await _seed_heartbeats(conn, now)
        await _seed_verifications(conn, now)

    await db.write(write)


async def _seed_jobs(conn: aiosqlite.Connection, now: datetime, rnd: random.Random) -> None:
    for n, job in enumerate(_JOBS, start=1):
        job_id = f"job_{n:016x}"
        schedule = Schedule(job.schedule)
        runs = list(schedule.fire_times_between(now - timedelta(days=40), now, 100_000))[-30:]
        last_run = runs[-1] if runs else None
        flipped_at = runs[-1] if job.status == "failing" and runs else now - timedelta(days=3)
        next_run = None if job.status == "paused" else schedule.next_after(now)
        await conn.execute(
            "INSERT INTO jobs (id, account_id, name, description, schedule, endpoint, method, headers, timeout_secs, "
            "retries, status, consecutive_failures, next_run_at, last_run_at, created_at, updated_at) "
            "VALUES (?, ?, ?, '', ?, ?, 'POST', ?, 30, NULL, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                OWNER_ACCOUNT_ID,
                job.name,
                job.schedule,
                job.endpoint,
                json.dumps({"Authorization": "Bearer •••"} if n == 1 else {}),
                job.status,
                job.failures,
                _ms(next_run),
                _ms(last_run),
                to_ms(now - timedelta(days=45)),
                to_ms(flipped_at),
            ),
        )
        rows: list[tuple[object, ...]] = []
        for index, moment in enumerate(runs):
            failed = index >= len(runs) - job.fail_last
            duration = max(5, int(job.slow * rnd.uniform(0.7, 1.4)))
            status, code, error = "success", 200, ""
            code_or_none: int | None = code
            if failed and job.name == "warm-cache":
                status, code_or_none, error, duration = "timeout", None, "no response within 30 s", 30_000
            elif failed:
                status, code_or_none, error = "failed", 503, "HTTP 503 Service Unavailable"
            started = moment + timedelta(milliseconds=rnd.randint(2, 40))
            rows.append(
                (
                    f"exe_{n:04x}{index:012x}",
                    job_id,
                    status,
                    code_or_none,
                    duration,
                    error,
                    to_ms(moment),
                    to_ms(moment),
                    to_ms(started),
                    to_ms(started + timedelta(milliseconds=duration)),
                    3 if failed and status == "failed" else 1,
                    0,
                )
            )
        await conn.executemany(
            "INSERT INTO executions (id, job_id, status, status_code, duration_ms, error, scheduled_at, "
            "triggered_at, started_at, finished_at, attempts, manual) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


async def _seed_monitors(conn: aiosqlite.Connection, now: datetime, rnd: random.Random) -> None:
    for n, monitor in enumerate(_MONITORS, start=1):
        monitor_id = f"mon_{n:016x}"
        https = monitor.url.startswith("https://")
        cert = now + timedelta(days=monitor.cert_days) if https and monitor.cert_days is not None else None
        checks = []
        for index in range(60):
            moment = now - timedelta(seconds=monitor.interval * (60 - index)) + timedelta(seconds=7)
            down = index >= 60 - monitor.failing_checks
            duration = int(monitor.typical_ms * rnd.uniform(0.6, 1.8))
            if rnd.random() < 0.04:
                duration *= 3  # the odd slow response makes the sparkline worth reading
            checks.append(
                (
                    f"chk_{n:04x}{index:012x}",
                    monitor_id,
                    "down" if down else "up",
                    502 if down else 200,
                    duration,
                    "HTTP 502 Bad Gateway" if down else "",
                    _ms(cert),
                    to_ms(moment),
                )
            )
        last = checks[-1]
        paused = monitor.status == "paused"
        await conn.execute(
            "INSERT INTO monitors (id, account_id, name, url, interval_secs, timeout_secs, assertions, status, "
            "consecutive_failures, ssl_expires_at, next_check_at, last_checked_at, last_check_status, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 10, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                monitor_id,
                OWNER_ACCOUNT_ID,
                monitor.name,
                monitor.url,
                monitor.interval,
                json.dumps([{"source": "status_code", "comparison": "eq", "target": "200"}] if n == 1 else []),
                monitor.status,
                monitor.failing_checks,
                _ms(cert),
                None if paused else to_ms(now + timedelta(seconds=monitor.interval - 10)),
                last[7],
                last[2],
                to_ms(now - timedelta(days=60)),
                to_ms(now - timedelta(seconds=monitor.interval * monitor.failing_checks))
                if monitor.failing_checks
                else to_ms(now - timedelta(days=60)),
            ),
        )
        await conn.executemany(
            "INSERT INTO monitor_checks (id, monitor_id, status, status_code, duration_ms, error, ssl_expires_at, "
            "checked_at) VALUES (?,?,?,?,?,?,?,?)",
            checks,
        )
        per_hour = 3600 // monitor.interval
        hourly = []
        current = hour_start(now)
        for hours_ago in range(30 * 24):
            hour = current - timedelta(hours=hours_ago)
            failed = (monitor.failing_checks if hours_ago == 0 else 3) if hours_ago in monitor.down_hours else 0
            total = per_hour if hours_ago else max(1, now.minute * 60 // monitor.interval)
            hourly.append((monitor_id, to_ms(hour), total, total - min(failed, total), total * monitor.typical_ms))
        await conn.executemany(
            "INSERT INTO monitor_hourly (monitor_id, hour, checks, up_checks, total_response_ms) VALUES (?,?,?,?,?)",
            hourly,
        )


async def _seed_heartbeats(conn: aiosqlite.Connection, now: datetime) -> None:
    hour, day = 3600, 86400
    # name, face, slug, interval, grace, state, misses, last ping (seconds ago), duration ms, ping every (s)
    samples: Sequence[tuple[str, str, str | None, int, int, str, int, int | None, int | None, int]] = (
        ("etl-hourly", "tickstem", None, hour, 300, "up", 0, 40 * 60, None, hour),
        ("db-vacuum", "tickstem", None, day, hour, "down", 2, 2 * day + 3 * hour, None, day),
        ("backup-offsite", "cronsafe", "bK7xQ2mN9pLw", day, 1800, "up", 0, 9 * hour + 19 * 60, 812_000, day),
        ("mail-queue", "tickstem", None, 300, 60, "paused", 0, 3 * hour, None, 300),
        ("cert-renewal", "cronsafe", "Zr4TqW8yUe2c", 7 * day, hour, "new", 0, None, None, 0),
    )
    for n, (name, face, slug, interval, grace, state, misses, ago, duration, every) in enumerate(samples, start=1):
        heartbeat_id = f"hb_{n:016x}" if face == "tickstem" else f"0000000{n}-5a3e-4c1d-9f00-00000000000{n}"
        last_ping = None if ago is None else now - timedelta(seconds=ago)
        deadline: datetime | None = None
        if state in ("up", "new") and (face == "tickstem" or last_ping is not None):
            deadline = (last_ping or now - timedelta(days=1)) + timedelta(seconds=interval)
        elif state == "down":
            deadline = now + timedelta(hours=2, minutes=57)
        created = now - timedelta(days=20)
        await conn.execute(
            "INSERT INTO heartbeats (id, account_id, face, name, token, slug, interval_secs, grace_secs, state, "
            "consecutive_misses, last_ping_at, last_start_at, last_duration_ms, last_failure_output, "
            "next_expected_at, alert_after, alert_channels, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?,?,'[]',?,?)",
            (
                heartbeat_id,
                OWNER_ACCOUNT_ID,
                face,
                name,
                _token(name),
                slug,
                interval,
                grace,
                state,
                misses,
                _ms(last_ping),
                None if duration is None or last_ping is None else to_ms(last_ping - timedelta(milliseconds=duration)),
                duration,
                _ms(deadline),
                None if deadline is None else to_ms(deadline + timedelta(seconds=grace)),
                to_ms(created),
                to_ms(now - timedelta(days=1) if state == "down" else created),
            ),
        )
        if last_ping is None or not every:
            continue
        pings: list[tuple[str, str, str, int, int | None]] = []
        for index in range(40):
            moment = last_ping - timedelta(seconds=every * index) + timedelta(seconds=(index * 7) % 23)
            if duration:
                pings.append(
                    (f"p{n}s{index}", heartbeat_id, "start", to_ms(moment - timedelta(milliseconds=duration)), None)
                )
            pings.append((f"p{n}e{index}", heartbeat_id, "success", to_ms(moment), duration))
        await conn.executemany(
            "INSERT INTO heartbeat_pings (id, heartbeat_id, kind, received_at, ip, user_agent, output, duration_ms, "
            "paused) VALUES (?, ?, ?, ?, '10.0.4.17', 'tickstem-python/1.0.0', NULL, ?, 0)",
            sorted(pings, key=lambda ping: ping[3]),
        )
    for statement in LINK_PING_CHAINS:
        await conn.execute(statement)


async def _seed_verifications(conn: aiosqlite.Connection, now: datetime) -> None:
    samples = (
        ("ada@example.com", "example.com", 1, 1, 0, 0, ""),
        ("info@example.org", "example.org", 1, 1, 0, 1, "role-based address"),
        ("someone@mailinator.com", "mailinator.com", 0, 1, 1, 0, "disposable email domain"),
        ("bob@no-mail.example", "no-mail.example", 0, 0, 0, 0, "domain has no MX or A/AAAA records"),
        ("not an address", "", 0, 0, 0, 0, "invalid email syntax"),
    )
    await conn.executemany(
        "INSERT INTO verifications (id, account_id, email, domain, valid, mx_found, disposable, role_based, reason, "
        "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (f"ver_{n:016x}", OWNER_ACCOUNT_ID, *sample, to_ms(now - timedelta(minutes=7 * n)))
            for n, sample in enumerate(samples, start=1)
        ],
    )


SAMPLE_FEED = (
    (timedelta(minutes=3), "monitor “payments” active → failing: 3 checks failed in a row; last HTTP 502", "bad"),
    (timedelta(minutes=10), "job “warm-cache” run timeout", "bad"),
    (timedelta(hours=1, minutes=12), "heartbeat “etl-hourly” failing → active: a ping arrived", "ok"),
    (timedelta(hours=10), "job “nightly-backup” active → failing: 2 consecutive failed runs; last: HTTP 503", "bad"),
    (timedelta(days=1), "heartbeat “db-vacuum” active → failing: 2 pings missed", "bad"),
)


class SampleConsole(TickstemApp):
    """The console over a throwaway runtime seeded with the sample data, frozen at `NOW`."""

    def __init__(self, *, size: tuple[int, int] = SCREEN_SIZE) -> None:
        super().__init__(server_url=SAMPLE_URL, api_key=SAMPLE_KEY, cursor_blink=False)
        self.size_hint = size
        self.runtime: Runtime | None = None
        self.clock = FakeClock(NOW)
        self._stack = contextlib.AsyncExitStack()

    def database_label(self) -> str:
        return "~/.local/share/tickstem-tui/tickstem.sqlite3"

    async def on_load(self) -> None:
        folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="tickstem-sample-")))
        settings = Settings(port=0, db_path=folder / "sample.sqlite3", api_key=SAMPLE_KEY, desktop_notifications=False)
        runtime = await self._stack.enter_async_context(Runtime(settings, clock=self.clock, serve_http=False))
        await seed(runtime.db, NOW)
        self.runtime = runtime
        self.attach(runtime.services)
        for ago, text, tone in reversed(SAMPLE_FEED):
            self.bridge.feed.appendleft(FeedItem(NOW - ago, text, tone))

    async def on_unmount(self) -> None:
        await self._stack.aclose()


async def write_screenshots(out: Path, size: tuple[int, int] = SCREEN_SIZE) -> list[Path]:
    """One SVG per screen (plus the job form with its cron preview) of the sample console."""
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    app = SampleConsole(size=size)
    written: list[Path] = []
    async with app.run_test(size=size) as pilot:
        await settle_app(pilot)
        for mode, keys in SCREENSHOTS.items():
            await app.switch_mode(mode)
            await settle_app(pilot)
            for key in keys:
                await pilot.press(key)
                await settle_app(pilot)
            written.append(Path(app.save_screenshot(filename=f"{mode}.svg", path=str(out))))
        await app.switch_mode("jobs")
        await pilot.press("e")
        await settle_app(pilot)
        written.append(Path(app.save_screenshot(filename="job-form.svg", path=str(out))))
    return written


async def settle_app(pilot: object) -> None:
    """Let workers (model load, history pages) finish and the screen repaint, until it stops changing.

    On a loaded machine a bridge flush or a history page can land a turn later than usual.
    """
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    shown = pilot.app.export_screenshot()
    for _ in range(20):
        await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()
        now_shown = pilot.app.export_screenshot()
        if now_shown == shown:
            return
        shown = now_shown


async def seed_bulk(
    db: Database,
    now: datetime = NOW,
    *,
    jobs: int = 1000,
    monitors: int = 1000,
    heartbeats: int = 200,
    history: int = 100_000,
) -> None:
    """A large account for benchmarks: `history` rows split over executions (half), checks (two fifths), pings."""
    schedules = ("*/5 * * * *", "0 * * * *", "0 2 * * *", "30 9 * * 1-5", "*/15 * * * *", "0 0 1 * *")
    per_job = history // 2 // max(jobs, 1)
    per_monitor = history * 2 // 5 // max(monitors, 1)
    per_heartbeat = (history - per_job * jobs - per_monitor * monitors) // max(heartbeats, 1)

    async def write(conn: aiosqlite.Connection) -> None:
        job_rows, executions = [], []
        for n in range(jobs):
            job_id = f"job_{n:016x}"
            schedule = schedules[n % len(schedules)]
            job_rows.append(
                (
                    job_id,
                    OWNER_ACCOUNT_ID,
                    f"job-{n:05d}",
                    schedule,
                    f"http://127.0.0.1:9/job/{n}",
                    "failing" if n % 97 == 0 else "active",
                    to_ms(Schedule(schedule).next_after(now)),
                    to_ms(now - timedelta(minutes=5)),
                    to_ms(now - timedelta(days=30)),
                )
            )
            for index in range(per_job):
                moment = now - timedelta(minutes=5 * (index + 1))
                executions.append(
                    (
                        f"exe_{n:06x}{index:08x}",
                        job_id,
                        "success",
                        200,
                        100 + index % 50,
                        "",
                        to_ms(moment),
                        to_ms(moment),
                    )
                )
        await conn.executemany(
            "INSERT INTO jobs (id, account_id, name, description, schedule, endpoint, method, headers, timeout_secs, "
            "retries, status, consecutive_failures, next_run_at, last_run_at, created_at, updated_at) "
            "VALUES (?, ?, ?, '', ?, ?, 'POST', '{}', 30, NULL, ?, 0, ?, ?, ?, ?)",
            [(*row, row[-1]) for row in job_rows],
        )
        await conn.executemany(
            "INSERT INTO executions (id, job_id, status, status_code, duration_ms, error, scheduled_at, triggered_at, "
            "started_at, finished_at, attempts, manual) VALUES (?,?,?,?,?,?,?,?,?,?,1,0)",
            [(*row, row[-1], row[-1] + row[4]) for row in executions],
        )
        monitor_rows, checks = [], []
        for n in range(monitors):
            monitor_id = f"mon_{n:016x}"
            monitor_rows.append(
                (
                    monitor_id,
                    OWNER_ACCOUNT_ID,
                    f"monitor-{n:05d}",
                    f"https://site{n}.example.com/health",
                    "failing" if n % 89 == 0 else "active",
                    to_ms(now + timedelta(days=60)),
                    to_ms(now + timedelta(seconds=30)),
                    to_ms(now - timedelta(seconds=30)),
                    to_ms(now - timedelta(days=30)),
                )
            )
            for index in range(per_monitor):
                moment = now - timedelta(seconds=30 * (index + 1))
                checks.append((f"chk_{n:06x}{index:08x}", monitor_id, 100 + index % 80, to_ms(moment)))
        await conn.executemany(
            "INSERT INTO monitors (id, account_id, name, url, interval_secs, timeout_secs, assertions, status, "
            "consecutive_failures, ssl_expires_at, next_check_at, last_checked_at, last_check_status, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, 30, 10, '[]', ?, 0, ?, ?, ?, 'up', ?, ?)",
            [(*row, row[-1]) for row in monitor_rows],
        )
        await conn.executemany(
            "INSERT INTO monitor_checks (id, monitor_id, status, status_code, duration_ms, error, ssl_expires_at, "
            "checked_at) VALUES (?, ?, 'up', 200, ?, '', NULL, ?)",
            checks,
        )
        hb_rows, pings = [], []
        for n in range(heartbeats):
            heartbeat_id = f"hb_{n:016x}"
            last = now - timedelta(minutes=10)
            hb_rows.append(
                (
                    heartbeat_id,
                    OWNER_ACCOUNT_ID,
                    f"heartbeat-{n:05d}",
                    _token(f"bulk-{n}"),
                    to_ms(last),
                    to_ms(last + timedelta(hours=1)),
                    to_ms(last + timedelta(hours=1, minutes=5)),
                    to_ms(now - timedelta(days=30)),
                )
            )
            for index in range(per_heartbeat):
                pings.append((f"hbp_{n:06x}{index:08x}", heartbeat_id, to_ms(last - timedelta(hours=index))))
        await conn.executemany(
            "INSERT INTO heartbeats (id, account_id, face, name, token, slug, interval_secs, grace_secs, state, "
            "consecutive_misses, last_ping_at, last_start_at, last_duration_ms, last_failure_output, "
            "next_expected_at, alert_after, alert_channels, created_at, updated_at) "
            "VALUES (?, ?, 'tickstem', ?, ?, NULL, 3600, 300, 'up', 0, ?, NULL, NULL, NULL, ?, ?, '[]', ?, ?)",
            [(*row, row[-1]) for row in hb_rows],
        )
        await conn.executemany(
            "INSERT INTO heartbeat_pings (id, heartbeat_id, kind, received_at, ip, user_agent, output, duration_ms, "
            "paused) VALUES (?, ?, 'success', ?, '10.0.0.1', 'curl/8', NULL, NULL, 0)",
            sorted(pings, key=lambda ping: ping[2]),
        )
        for statement in LINK_PING_CHAINS:
            await conn.execute(statement)

    await db.write(write)
