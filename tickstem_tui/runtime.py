"""The composition root: opens the store, wires every service, runs the HTTP server, stops it all in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from types import TracebackType

import aiohttp

from tickstem_tui.api.app import HttpServer, create_app
from tickstem_tui.clock import Clock, SystemClock
from tickstem_tui.config import Settings
from tickstem_tui.domain.monitors import ROLLUP_RETENTION
from tickstem_tui.facade import Services
from tickstem_tui.notify.desktop import DesktopChannel
from tickstem_tui.services.accounts import AccountService
from tickstem_tui.services.alerts import AlertDispatcher
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.cronsafe import CronSafeService
from tickstem_tui.services.executor import Executor
from tickstem_tui.services.heartbeats import HeartbeatService
from tickstem_tui.services.jobs import JobService
from tickstem_tui.services.monitors import MonitorService
from tickstem_tui.services.poller import CertificateAwareResponse, Poller, build_ssl_context
from tickstem_tui.services.retention import Retention
from tickstem_tui.services.scheduler import Scheduler
from tickstem_tui.services.supervisor import Supervisor
from tickstem_tui.services.users import JWT_SECRET_NAME, UserService
from tickstem_tui.services.verifier import Verifier
from tickstem_tui.services.watchdog import Watchdog
from tickstem_tui.store.accounts import AccountRepository
from tickstem_tui.store.database import Database
from tickstem_tui.store.heartbeats import HeartbeatRepository
from tickstem_tui.store.jobs import JobRepository
from tickstem_tui.store.monitors import MonitorRepository
from tickstem_tui.store.verifications import VerificationRepository

log = logging.getLogger(__name__)


def http_session(settings: Settings) -> aiohttp.ClientSession:
    """The one outbound HTTP client (jobs, checks, alert webhooks), sized for the scheduler's peak."""
    connector = aiohttp.TCPConnector(limit=settings.max_concurrent_executions, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), response_class=CertificateAwareResponse
    )


class Runtime:
    """`async with Runtime(settings) as rt:` everything runs; on exit everything stops, newest first."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, serve_http: bool = True) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.serve_http = serve_http
        self.bus = EventBus()
        self.first_api_key: str | None = None
        """The owner's key when this start created the owner account (shown once)."""
        self._stack = contextlib.AsyncExitStack()
        self.db: Database
        self.services: Services
        self.scheduler: Scheduler
        self.executor: Executor
        self.poller: Poller
        self.watchdog: Watchdog
        self.retention: Retention
        self.alerts: AlertDispatcher
        self.supervisor: Supervisor
        self.server: HttpServer | None = None
        self.http: aiohttp.ClientSession

    @property
    def base_url(self) -> str:
        assert self.server is not None, "the HTTP server is not running"
        return self.server.base_url

    async def __aenter__(self) -> Runtime:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        settings, clock, stack = self.settings, self.clock, self._stack
        self.db = await Database.open(settings.db_path)
        stack.push_async_callback(self.db.close)

        self.http = session = http_session(settings)
        stack.push_async_callback(session.close)

        accounts = AccountService(AccountRepository(self.db), clock)
        self.first_api_key = await accounts.ensure_owner()
        if settings.api_key:
            await accounts.accept_key(settings.api_key)

        job_repo = JobRepository(self.db)
        self.executor = Executor(self.db, session, self.bus, clock, settings)
        stack.push_async_callback(self.executor.shutdown, settings.shutdown_timeout_secs)
        self.scheduler = Scheduler(self.db, job_repo, self.executor, clock)
        jobs = JobService(self.db, job_repo, self.scheduler, self.executor, self.bus, clock)
        monitor_repo = MonitorRepository(self.db)
        ssl_context = await asyncio.to_thread(build_ssl_context, settings.monitor_ca_file)
        self.poller = Poller(self.db, monitor_repo, session, self.bus, clock, settings, ssl_context)
        stack.push_async_callback(self.poller.shutdown)
        monitors = MonitorService(self.db, monitor_repo, self.poller, self.bus, clock, settings)
        verification_repo = VerificationRepository(self.db)
        verifier = Verifier(self.db, verification_repo, clock, settings, bus=self.bus)
        stack.push_async_callback(verifier.close)
        heartbeat_repo = HeartbeatRepository(self.db)
        self.watchdog = Watchdog(self.db, heartbeat_repo, self.bus, clock, settings)
        heartbeats = HeartbeatService(self.db, heartbeat_repo, self.watchdog, self.bus, clock, settings)
        self.services = Services(
            settings=settings,
            clock=clock,
            bus=self.bus,
            accounts=accounts,
            jobs=jobs,
            monitors=monitors,
            verifier=verifier,
            heartbeats=heartbeats,
            users=UserService(self.db, clock, await accounts.repo.secret(JWT_SECRET_NAME)),
            cronsafe=CronSafeService(self.db, heartbeats, settings),
            data_version=self.db.data_version,
        )

        self.retention = Retention(clock)
        self.retention.add(
            "verifications", timedelta(days=settings.verification_retention_days), verification_repo.prune_before
        )
        desktop = DesktopChannel() if settings.desktop_notifications else None
        if desktop is not None:
            stack.push_async_callback(desktop.close)
        self.alerts = AlertDispatcher(self.db, session, self.bus, clock, settings, desktop)
        self.retention.add("flips", timedelta(days=settings.flip_retention_days), self.alerts.prune)
        self.retention.add("executions", timedelta(days=settings.execution_retention_days), job_repo.prune_executions)
        self.retention.add("monitor_checks", timedelta(days=settings.check_retention_days), monitor_repo.prune_checks)
        self.retention.add("monitor_rollups", ROLLUP_RETENTION, monitor_repo.prune_rollups)
        self.retention.add("heartbeat_pings", timedelta(days=settings.ping_retention_days), heartbeat_repo.prune_pings)
        self.retention.add(
            "heartbeat_ping_cap", timedelta(0), lambda _: heartbeat_repo.trim_pings(settings.max_pings_per_heartbeat)
        )

        await self.scheduler.load()
        await self.poller.load()
        await self.watchdog.load()
        self.supervisor = Supervisor()
        stack.push_async_callback(self.supervisor.stop)
        self.supervisor.start("scheduler", self.scheduler.run)
        self.supervisor.start("poller", self.poller.run)
        self.supervisor.start("watchdog", self.watchdog.run)
        self.supervisor.start("retention", self.retention.run)
        self.supervisor.start("alerts", self.alerts.run)

        if self.serve_http:
            self.server = HttpServer(
                create_app(self.services), settings.host, settings.port, settings.shutdown_timeout_secs
            )
            await self.server.start()
            stack.push_async_callback(self.server.stop)
            log.info("serving on %s", self.server.base_url)
