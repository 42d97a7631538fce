"""Prunes history older than the configured retention, hourly."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from tickstem_tui.clock import Clock

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)

Pruner = Callable[[datetime], Awaitable[int]]


class Retention:
    """Each pruner gets the current time and deletes what it keeps no longer; one failing skips a round."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pruners: list[tuple[str, timedelta, Pruner]] = []

    def add(self, name: str, keep: timedelta, prune_before: Pruner) -> None:
        self._pruners.append((name, keep, prune_before))

    async def prune_once(self) -> dict[str, int]:
        now = self._clock.now()
        deleted = {}
        for name, keep, prune_before in self._pruners:
            try:
                deleted[name] = await prune_before(now - keep)
            except Exception:
                log.exception("pruning %s failed", name)
        if any(deleted.values()):
            log.info("retention pruned %s", deleted)
        return deleted

    async def run(self) -> None:
        while True:
            await self.prune_once()
            await self._clock.sleep_until(self._clock.now() + PRUNE_EVERY)
