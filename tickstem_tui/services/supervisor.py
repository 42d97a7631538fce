"""Runs long-lived service loops with an error boundary each: log, back off, restart, never crash the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

ServiceLoop = Callable[[], Awaitable[None]]


class Supervisor:
    def __init__(self, *, initial_backoff: float = 0.5, max_backoff: float = 60.0) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self.failures: dict[str, int] = {}

    def start(self, name: str, loop: ServiceLoop) -> None:
        if name in self._tasks:
            raise RuntimeError(f"service {name!r} already running")
        self._tasks[name] = asyncio.create_task(self._guard(name, loop), name=f"service:{name}")

    async def _guard(self, name: str, loop: ServiceLoop) -> None:
        backoff = self._initial_backoff
        while True:
            try:
                await loop()
                log.info("service %s finished", name)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures[name] = self.failures.get(name, 0) + 1
                log.exception("service %s crashed; restarting in %.1fs", name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def stop(self) -> None:
        """Cancel every loop (newest first) and wait for each to finish its cleanup."""
        for name in reversed(list(self._tasks)):
            task = self._tasks.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
