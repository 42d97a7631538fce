"""The uptime poller: sleeps until the earliest due monitor, GETs it with a clock-driven timeout, records the check."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import ssl
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from tickstem_tui import __version__
from tickstem_tui.clock import Clock, SystemClock, sleep_until_or
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import CheckRecorded, Flipped
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.monitors import (
    CheckStatus,
    Monitor,
    MonitorCheck,
    MonitorSpec,
    MonitorStatus,
    Response,
    certificate_flip,
    classify,
    status_after_check,
)
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.flips import record_flip_sync
from tickstem_tui.services.plan import DuePlan
from tickstem_tui.store.database import Database, Versioned
from tickstem_tui.store.monitors import MonitorRepository, insert_check_sync, load_versioned_sync, save_checked_sync

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
"""Most response body a check reads, and only for monitors with `body` assertions."""
BACKSTOP_SECS = 5
"""aiohttp's own timeout, past the clock-driven one: only matters if the clock's timer never fires."""
MAX_ERROR_CHARS = 500
USER_AGENT = f"tickstem-tui/{__version__} (uptime check)"
# A fresh connection per check: the time includes connect and TLS handshake as a visitor's would,
# and the certificate read is the one the server presents now, not one from a pooled connection.
CHECK_HEADERS = {"User-Agent": USER_AGENT, "Connection": "close", "Accept": "*/*"}


def build_ssl_context(extra_ca_file: Path | None) -> ssl.SSLContext:
    """The verifying TLS context of checks: system trust plus an optional extra CA (blocking: call in a thread)."""
    context = ssl.create_default_context()
    if extra_ca_file is not None:
        context.load_verify_locations(cafile=str(extra_ca_file))
    return context


class CertificateAwareResponse(aiohttp.ClientResponse):
    """Keeps the TLS peer certificate of the connection a response arrived on.

    aiohttp releases the connection as soon as a short body has been read, often before the caller sees
    the response, so `response.connection` is already None; this is the one moment the transport is sure
    to be there. Installed as the shared session's `response_class`.
    """

    peer_certificate: dict[str, Any] | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            self.peer_certificate = transport.get_extra_info("peercert")
        return await super().start(connection)


@dataclass(frozen=True, slots=True)
class _Answer:
    response: Response
    ssl_expires_at: datetime | None


class Poller:
    """Follows every active or failing monitor; at most one check per monitor and `poller_concurrency` in all."""

    def __init__(
        self,
        db: Database,
        repo: MonitorRepository,
        session: aiohttp.ClientSession,
        bus: EventBus,
        clock: Clock,
        settings: Settings,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._db = db
        self._repo = repo
        self._session = session
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._slots = asyncio.Semaphore(settings.poller_concurrency)
        self._plan: DuePlan[Monitor] = DuePlan()
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[MonitorCheck | None]] = {}
        self._known: dict[str, Versioned[Monitor]] = {}
        """Each followed monitor as its last recorded check left it (the next check starts from there)."""
        self.skipped = 0
        """Checks not started because the monitor's previous check was still running."""
        self.lateness_ms: list[float] = []
        """Start time minus planned time per fired check (read by benchmarks; trimmed)."""

    # -- the plan --------------------------------------------------------------------------------
    def track(self, monitor: Monitor) -> None:
        """Follow a monitor after a change: its stored `next_check_at` is its next check (None while paused)."""
        self._plan.discard(monitor.id)
        self._known.pop(monitor.id, None)
        if not monitor.is_checked or monitor.next_check_at is None:
            self._wake.set()
            return
        self._push(monitor, monitor.next_check_at)

    def forget(self, monitor_id: str) -> None:
        self._plan.discard(monitor_id)
        self._known.pop(monitor_id, None)
        self._wake.set()

    def next_check(self, monitor_id: str) -> datetime | None:
        planned = self._plan.get(monitor_id)
        return None if planned is None else planned[0]

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def _push(self, monitor: Monitor, due: datetime) -> None:
        if self._plan.put(monitor.id, due, monitor):
            self._wake.set()

    async def load(self) -> None:
        """Pick up every checked monitor from the store; overdue ones are checked at once."""
        now = self._clock.now()
        for row in await self._repo.checked():
            monitor = row.value
            self.track(replace(monitor, next_check_at=monitor.next_check_at or now))
            self._known[monitor.id] = row  # as stored: the first check need not read it again

    # -- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            self._wake.clear()
            due = self._plan.earliest()
            if due is None:
                await self._wake.wait()
                continue
            if due > self._clock.now():
                await sleep_until_or(self._clock, due, self._wake)
                continue
            self._fire_due()

    def _fire_due(self) -> None:
        now = self._clock.now()
        for monitor_id, due, monitor, _ in self._plan.pop_due(now):
            interval = timedelta(seconds=monitor.spec.interval_secs)
            # Planned times advance by whole intervals so the cadence does not drift by each
            # check's latency; after a suspend or a stall one check runs, not a burst.
            following = due + interval
            if following <= now:
                following = now + interval
            self._push(monitor, following)
            if monitor_id in self._running:
                self.skipped += 1
                continue
            if len(self.lateness_ms) > 100_000:
                del self.lateness_ms[:50_000]
            self.lateness_ms.append((now - due).total_seconds() * 1000)
            self._launch(monitor)

    def _launch(self, monitor: Monitor) -> asyncio.Task[MonitorCheck | None]:
        task = asyncio.create_task(self._check_and_record(monitor), name=f"check:{monitor.id}")
        self._running[monitor.id] = task

        def done(_: asyncio.Task[MonitorCheck | None]) -> None:
            if self._running.get(monitor.id) is task:
                del self._running[monitor.id]

        task.add_done_callback(done)
        return task

    async def check_now(self, monitor: Monitor) -> MonitorCheck | None:
        """Run (or join) a check of this monitor outside its schedule and return it once recorded."""
        task = self._running.get(monitor.id) or self._launch(monitor)
        return await asyncio.shield(task)

    async def wait_idle(self) -> None:
        """Wait until every check started so far has been recorded (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*tuple(self._running.values()), return_exceptions=True)

    async def shutdown(self) -> None:
        """Abandon checks in flight: a check cut short by shutdown says nothing about the target."""
        tasks = tuple(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one check -------------------------------------------------------------------------------
    async def _check_and_record(self, monitor: Monitor) -> MonitorCheck | None:
        try:
            check = await self.probe(monitor)
            return await self._record(monitor, check)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("check of monitor %s crashed", monitor.id)
            return None

    async def probe(self, monitor: Monitor) -> MonitorCheck:
        """GET the monitor's URL once; the timeout runs on the injected clock (fake time in tests)."""
        spec = monitor.spec
        result: _Answer | BaseException | None  # None: the clock's deadline came first
        async with self._slots:
            # Timing starts once a slot is free, so queueing behind other checks never counts as slowness.
            started_at = self._clock.now()
            if isinstance(self._clock, SystemClock):
                # Real time: aiohttp's own timeout is the clock's. Racing a deadline task against the fetch
                # (below) costs two more tasks and a wait per check, a sixth of the poller's peak rate.
                try:
                    result = await self._fetch(spec, spec.timeout_secs)
                except Exception as exc:
                    result = exc
            else:
                fetch = asyncio.ensure_future(self._fetch(spec, spec.timeout_secs + BACKSTOP_SECS))
                deadline = asyncio.ensure_future(
                    self._clock.sleep_until(started_at + timedelta(seconds=spec.timeout_secs))
                )
                try:
                    await asyncio.wait((fetch, deadline), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    deadline.cancel()
                    if not fetch.done():
                        fetch.cancel()
                        await asyncio.wait((fetch,))
                result = None if fetch.cancelled() else (fetch.exception() or fetch.result())
        if result is None or isinstance(result, TimeoutError):
            status, code, duration, expiry = CheckStatus.TIMEOUT, None, _elapsed_ms(started_at, self._clock.now()), None
            error = f"no response within {spec.timeout_secs}s"
        elif isinstance(result, BaseException):
            status, code, duration, expiry = CheckStatus.DOWN, None, _elapsed_ms(started_at, self._clock.now()), None
            error = describe_error(result)
        else:
            status, error = classify(spec, result.response)
            code, duration, expiry = result.response.status_code, result.response.duration_ms, result.ssl_expires_at
        return MonitorCheck(
            id=new_id("chk"),
            monitor_id=monitor.id,
            status=status,
            status_code=code,
            duration_ms=duration,
            error=error[:MAX_ERROR_CHARS],
            ssl_expires_at=expiry,
            checked_at=started_at,
        )

    async def _fetch(self, spec: MonitorSpec, timeout_secs: float) -> _Answer:
        started = time.perf_counter()
        async with self._session.get(
            spec.url,
            allow_redirects=False,
            headers=CHECK_HEADERS,
            ssl=self._ssl,
            timeout=aiohttp.ClientTimeout(total=timeout_secs),
        ) as response:
            expiry = peer_certificate_expiry(response) if spec.is_https else None
            body, truncated = "", False
            if spec.reads_body:
                raw = await read_bounded(response.content, MAX_BODY_BYTES)
                truncated = len(raw) > MAX_BODY_BYTES
                body = _decode(raw[:MAX_BODY_BYTES], response.charset)
            duration = round((time.perf_counter() - started) * 1000)
            return _Answer(Response(response.status, duration, body, truncated), expiry)

    async def _record(self, monitor: Monitor, check: MonitorCheck) -> MonitorCheck | None:
        failing_after = self._settings.failing_after
        warn_days = self._settings.certificate_warning_days
        planned = self.next_check(monitor.id)  # read here: the function below may run on the writer's thread
        known = self._known.get(monitor.id)

        def advance(current: Monitor) -> tuple[Monitor, list[Flipped]]:
            status, streak = status_after_check(current, check.status, failing_after)
            now = self._clock.now()
            ssl_expiry = check.ssl_expires_at if current.spec.is_https else None
            if ssl_expiry is None and current.spec.is_https:
                ssl_expiry = current.ssl_expires_at  # a failed check saw no certificate; keep the last known
            updated = replace(
                current,
                status=status,
                consecutive_failures=streak,
                ssl_expires_at=ssl_expiry,
                next_check_at=(planned or current.next_check_at) if current.is_checked else None,
                last_checked_at=check.checked_at,
                last_check_status=check.status,
                updated_at=now if status is not current.status else current.updated_at,
            )
            flips = [
                flip
                for flip in (
                    certificate_flip(current, updated, warn_days),
                    None if status is current.status else _status_flip(current, status, streak, check, now),
                )
                if flip is not None
            ]
            return updated, flips

        def stored(
            conn: sqlite3.Connection, updated: Monitor, version: int, flips: list[Flipped]
        ) -> tuple[Versioned[Monitor], list[Flipped]]:
            insert_check_sync(conn, check)
            for flip in flips:
                record_flip_sync(conn, flip)
            return Versioned(updated, version + 1), flips

        def write(conn: sqlite3.Connection) -> tuple[Versioned[Monitor], list[Flipped]] | None:
            if known is not None:
                # From the monitor as its last check left it, unless the row has changed since.
                updated, flips = advance(known.value)
                if save_checked_sync(conn, updated, known):
                    return stored(conn, updated, known.version, flips)
            current = load_versioned_sync(conn, monitor.id)
            if current is None:
                return None  # deleted while the check ran; its history went with it
            updated, flips = advance(current.value)
            if not save_checked_sync(conn, updated, current):
                raise RuntimeError(f"monitor {monitor.id} changed under the writer")
            return stored(conn, updated, current.version, flips)

        outcome = await self._db.write_sync(write, quick=True)
        if outcome is None:
            self._known.pop(monitor.id, None)
            return None
        committed, flips = outcome
        updated = committed.value
        if self._plan.get(monitor.id) is not None:  # still followed (not paused or deleted meanwhile)
            self._known[monitor.id] = committed
        self._bus.publish(
            CheckRecorded(
                updated.account_id,
                updated.id,
                check.id,
                check.status.value,
                check.status_code,
                check.duration_ms,
                updated.status.value,
                check.checked_at,
            )
        )
        for flip in flips:
            self._bus.publish(flip)
        return check


def _status_flip(current: Monitor, status: MonitorStatus, streak: int, check: MonitorCheck, now: datetime) -> Flipped:
    reason = _flip_reason(status, streak, check)
    return Flipped(
        current.account_id, "monitor", current.id, current.name, current.status.value, status.value, reason, now
    )


def _flip_reason(status: MonitorStatus, streak: int, check: MonitorCheck) -> str:
    if status is MonitorStatus.FAILING:
        return f"{streak} consecutive failed checks; last: {check.status.value}: {check.error}"
    code = "" if check.status_code is None else f"HTTP {check.status_code} "
    return f"check succeeded ({code}in {check.duration_ms} ms)"


def _elapsed_ms(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


async def read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to `limit + 1` bytes of a body (one more than kept, to tell a truncated body from a complete one)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(limit + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def peer_certificate_expiry(response: aiohttp.ClientResponse) -> datetime | None:
    """The notAfter of the certificate the server presented on this response's connection."""
    certificate = getattr(response, "peer_certificate", None)
    if certificate is None and response.connection is not None and response.connection.transport is not None:
        certificate = response.connection.transport.get_extra_info("peercert")  # a session without our class
    if not certificate or "notAfter" not in certificate:
        return None
    try:
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        return None


def describe_error(exc: BaseException) -> str:
    """A short, user-facing reason for a check that got no HTTP answer."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed for {exc.host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate rejected: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return f"TLS handshake failed: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or str(exc.os_error)
        return f"connection to {exc.host}:{exc.port} failed: {reason}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection without answering"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL: {exc}"
    text = str(exc) or type(exc).__name__
    return f"request failed: {text}"
