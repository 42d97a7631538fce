"""Injected time: the system clock for real runs, a fake clock for fast deterministic tests."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What every time-driven service needs: the current UTC time and a way to wait for a moment."""

    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...


class SystemClock:
    """Wall-clock time; waits in bounded slices so a suspended laptop notices the jump on wake."""

    max_slice: float = 30.0
    """Longest single asyncio sleep: monotonic time stops during suspend, the wall clock does not."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep_until(self, when: datetime) -> None:
        while (remaining := (when - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(remaining, self.max_slice))


class FakeClock:
    """A clock that only moves when told to; sleepers wake in deadline order as it advances."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._order), future))
        await future

    @property
    def next_wakeup(self) -> datetime | None:
        """The earliest deadline anyone is waiting for (cancelled waiters ignored)."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, delta: timedelta | float) -> None:
        """Move time forward, waking each sleeper at its own deadline and letting it run."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        await self.set(self._now + delta)

    async def set(self, target: datetime) -> None:
        """Jump to `target`, waking sleepers one deadline at a time so their follow-up sleeps are honoured."""
        while (wake := self.next_wakeup) is not None and wake <= target:
            self._now = max(self._now, wake)
            while self._sleepers and self._sleepers[0][0] <= self._now:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
            await settle()
        self._now = max(self._now, target)
        await settle()

    async def jump(self, delta: timedelta | float) -> None:
        """Move time forward at once, as a machine waking from suspend sees it: every sleeper that
        fell due meanwhile wakes late, at the new time (unlike `advance`, which wakes each on time)."""
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        self._now += delta
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        await settle()


async def sleep_until_or(clock: Clock, when: datetime, wake: asyncio.Event) -> None:
    """Sleep until `when` on `clock`, or until `wake` is set, whichever comes first."""
    sleeper = asyncio.ensure_future(clock.sleep_until(when))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()


async def settle(rounds: int = 20) -> None:
    """Give ready tasks a few turns of the loop (used by fake-time tests)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A UTC datetime, shorthand for tests and samples."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
