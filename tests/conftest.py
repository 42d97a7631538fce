"""Shared fixtures: a real runtime on a temp SQLite file and a loopback port, SDK helpers, recording endpoints."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from tests.dns_server import LoopbackDNS
from tickstem_tui.clock import FakeClock, SystemClock, utc
from tickstem_tui.config import Settings
from tickstem_tui.runtime import Runtime

T = TypeVar("T")

API_KEY = "tsk_test_key_for_the_suite"


def make_settings(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(
        host="127.0.0.1",
        port=0,
        db_path=tmp_path / "tickstem.sqlite3",
        api_key=API_KEY,
        retry_backoff_secs=0.01,
        shutdown_timeout_secs=2.0,
        desktop_notifications=False,
    )
    return base.replace(**changes)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A real runtime (system clock) serving HTTP on a free loopback port."""
    async with Runtime(settings, clock=SystemClock()) as rt:
        yield rt


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(utc(2026, 5, 1, 11, 58, 30))


@pytest.fixture
async def fake_runtime(settings: Settings, fake_clock: FakeClock) -> AsyncIterator[Runtime]:
    """A real runtime whose services run on a fake clock that tests move by hand."""
    async with Runtime(settings, clock=fake_clock) as rt:
        yield rt


async def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a synchronous SDK method without blocking the loop that serves it."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingEndpoint:
    """A real loopback HTTP server standing in for a user's endpoint; answers as told and records calls."""

    url: str
    calls: list[Recorded] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    body: str = "ok"
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    in_flight: int = 0
    max_in_flight: int = 0

    async def wait_for_calls(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        async def wait() -> None:
            while len(self.calls) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.calls


@pytest.fixture
async def endpoint() -> AsyncIterator[RecordingEndpoint]:
    recorder: RecordingEndpoint | None = None

    async def handle(request: web.Request) -> web.StreamResponse:
        assert recorder is not None
        body = await request.read()
        recorder.in_flight += 1
        recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
        try:
            if recorder.delay:
                await asyncio.sleep(recorder.delay)
        finally:
            recorder.in_flight -= 1
        recorder.calls.append(Recorded(request.method, request.path_qs, dict(request.headers), body))
        recorder.arrived.set()
        return web.Response(status=recorder.status, text=recorder.body)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recorder = RecordingEndpoint(url=f"http://127.0.0.1:{site.port}")
    yield recorder
    await runner.cleanup()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll an async condition until it holds (for effects that land asynchronously over real I/O)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@pytest.fixture
def dns_server() -> Iterator[LoopbackDNS]:
    """A real DNS server on 127.0.0.1 (UDP and TCP, a free port) serving tests/dns_server.py's zones."""
    with LoopbackDNS() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, list[Any]]]:
    """A real SMTP server on loopback (aiosmtpd) keeping every message it receives."""
    received: list[Any] = []

    class Recorder(Message):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, received
    controller.stop()
