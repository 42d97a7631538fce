"""The composition root: opens the store, wires every service, runs the HTTP server, stops it all in order."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from types import TracebackType

import aiohttp

from tickstem_tui.api.app import HttpServer, create_app
from tickstem_tui.clock import Clock, SystemClock
from tickstem_tui.config import Settings
from tickstem_tui.facade import Services
from tickstem_tui.services.accounts import AccountService
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.executor import Executor
from tickstem_tui.services.jobs import JobService
from tickstem_tui.services.retention import Retention
from tickstem_tui.services.scheduler import Scheduler
from tickstem_tui.services.supervisor import Supervisor
from tickstem_tui.store.accounts import AccountRepository
from tickstem_tui.store.database import Database
from tickstem_tui.store.jobs import JobRepository

log = logging.getLogger(__name__)


def http_session(settings: Settings) -> aiohttp.ClientSession:
    """The one outbound HTTP client (jobs, checks, alert webhooks), sized for the scheduler's peak."""
    connector = aiohttp.TCPConnector(limit=settings.max_concurrent_executions, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


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
        self.retention: Retention
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
        self.services = Services(settings=settings, clock=clock, bus=self.bus, accounts=accounts, jobs=jobs)

        self.retention = Retention(clock)
        self.retention.add("executions", timedelta(days=settings.execution_retention_days), job_repo.prune_executions)

        await self.scheduler.load()
        self.supervisor = Supervisor()
        stack.push_async_callback(self.supervisor.stop)
        self.supervisor.start("scheduler", self.scheduler.run)
        self.supervisor.start("retention", self.retention.run)

        if self.serve_http:
            self.server = HttpServer(
                create_app(self.services), settings.host, settings.port, settings.shutdown_timeout_secs
            )
            await self.server.start()
            stack.push_async_callback(self.server.stop)
            log.info("serving on %s", self.server.base_url)
