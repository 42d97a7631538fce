"""Helpers for the uptime tests: loopback target servers (HTTP and TLS) that answer as told, event collectors."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import eventually
from tickstem_tui.domain.events import CheckRecorded, Event, Flipped
from tickstem_tui.runtime import Runtime


@dataclass
class Answer:
    status: int = 200
    body: str = "ok"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Target:
    """A user's service on loopback: each path answers with its own status, body and delay, and counts hits."""

    base: str
    answers: dict[str, Answer] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/", **answer: Any) -> str:
        """The URL of `path`, which from now on answers as described (status, body, delay, headers)."""
        if answer or path not in self.answers:
            self.answers[path] = Answer(**answer)
        return self.base + path

    def set(self, path: str, **answer: Any) -> None:
        self.answers[path] = Answer(**answer)


@asynccontextmanager
async def serve_target(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Target]:
    target: Target | None = None

    async def handle(request: web.Request) -> web.StreamResponse:
        assert target is not None
        path = request.path
        target.hits[path] = target.hits.get(path, 0) + 1
        answer = target.answers.get(path, Answer(status=404, body="no such path"))
        target.in_flight += 1
        target.max_in_flight = max(target.max_in_flight, target.in_flight)
        try:
            if answer.delay:
                # Bounded by `release`, so a hanging answer never holds up the server's shutdown.
                with suppress(TimeoutError):
                    await asyncio.wait_for(target.release.wait(), answer.delay)
        finally:
            target.in_flight -= 1
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context is not None else "http"
    target = Target(base=f"{scheme}://127.0.0.1:{site.port}")
    try:
        yield target
    finally:
        target.release.set()
        await runner.cleanup()


class Collector:
    """Records what the runtime publishes, to wait for checks and flips."""

    def __init__(self, runtime: Runtime) -> None:
        self.events: list[Event] = []
        self._unsubscribe: Callable[[], None] = runtime.bus.subscribe(self.events.append)

    def close(self) -> None:
        self._unsubscribe()

    def checks(self, monitor_id: str | None = None) -> list[CheckRecorded]:
        return [
            e
            for e in self.events
            if isinstance(e, CheckRecorded) and (monitor_id is None or e.monitor_id == monitor_id)
        ]

    def flips(self) -> list[Flipped]:
        return [e for e in self.events if isinstance(e, Flipped)]

    async def wait_checks(
        self, count: int, monitor_id: str | None = None, timeout: float = 10.0
    ) -> list[CheckRecorded]:
        async def enough() -> bool:
            return len(self.checks(monitor_id)) >= count

        await eventually(enough, timeout=timeout, interval=0.005)
        return self.checks(monitor_id)
