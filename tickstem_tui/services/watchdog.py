"""The heartbeat watchdog: sleeps until the earliest stored alert threshold, counts misses, flips, survives sleep."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime, timedelta

from tickstem_tui.clock import Clock, settle, sleep_until_or
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import Flipped, HeartbeatChanged, WatchdogGap
from tickstem_tui.domain.heartbeats import Heartbeat, flipped, on_threshold_passed, rearmed
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.flips import record_flip_sync
from tickstem_tui.store.database import Database
from tickstem_tui.store.heartbeats import (
    HeartbeatRepository,
    due_heartbeats,
    insert_gap,
    interrupted_heartbeats,
    update_heartbeat,
)

log = logging.getLogger(__name__)

DUE_BATCH = 256
"""Most due heartbeats judged in one write, so a burst of deadlines cannot hold the writer for long."""
MAX_NAP = timedelta(seconds=60)
"""Longest single wait: bounds how late a wall-clock jump (suspend) is noticed and how vague its start is."""


class Watchdog:
    """One loop for every heartbeat of both faces.

    Each heartbeat's next alert threshold (`alert_after`) is stored and indexed. The loop reads the
    earliest one, sleeps until then on the injected clock (naps capped at MAX_NAP; woken early only
    when a create, edit or resume sets an earlier one), and judges what is due in one write: misses
    counted, flips recorded with compare-and-set in the same transaction (the outbox the alert
    dispatcher reads). Pings never wake it: they only move deadlines later.

    Sleep and restarts: when the loop wakes more than `suspend_detect_secs` after the moment it asked
    for, the machine slept (or the wall clock jumped) since it last looked. Pings could not arrive
    meanwhile, so heartbeats whose deadline or threshold fell in that stretch are re-armed from the
    wake time (misses neither counted nor reset) instead of firing a burst of false misses, and the
    stretch is recorded in `watchdog_gaps` (and published as WatchdogGap). Start-up does the same for
    thresholds that passed while the server was not running.
    """

    def __init__(
        self, db: Database, repo: HeartbeatRepository, bus: EventBus, clock: Clock, settings: Settings
    ) -> None:
        self._db = db
        self._repo = repo
        self._bus = bus
        self._clock = clock
        self._failing_after = settings.failing_after
        self._late = timedelta(seconds=settings.suspend_detect_secs)
        self._wake = asyncio.Event()
        self._target: datetime | None = None
        self._planned: datetime | None = None
        self._sleeping = False
        self.gaps_detected = 0

    @property
    def next_wakeup(self) -> datetime | None:
        """The alert threshold the loop is waiting for (None while busy or with nothing to watch)."""
        return self._target if self._sleeping else None

    def deadline_changed(self, when: datetime | None) -> None:
        """Called after a committed change: wake the loop if `when` is earlier than the threshold it waits for."""
        if when is None:
            return
        if not self._sleeping or self._target is None or when < self._target:
            self._wake.set()

    async def load(self) -> None:
        """At start-up: thresholds that passed while the server was not running are re-armed, not missed."""
        earliest = await self._repo.earliest_alert_after()
        now = self._clock.now()
        if earliest is not None and now - earliest > self._late:
            await self._rearm("stopped", earliest, now)

    async def run(self) -> None:
        while True:
            self._target = None
            self._wake.clear()
            earliest = await self._repo.earliest_alert_after()
            seen = self._clock.now()
            if earliest is not None and earliest <= seen:
                await self.check_due(seen)
                continue
            # Naps are capped so a jump of the wall clock is noticed even when nothing is due for days;
            # a nap costs one indexed MIN() on waking, never a scan.
            planned = seen + MAX_NAP if earliest is None else min(earliest, seen + MAX_NAP)
            self._target, self._planned, self._sleeping = earliest, planned, True
            try:
                await sleep_until_or(self._clock, planned, self._wake)
            finally:
                self._sleeping = False
            woke = self._clock.now()
            if woke - planned > self._late:
                # Asleep (or the clock jumped) somewhere after `seen`: nothing could be observed, or pinged.
                await self._rearm("suspend", seen, woke)

    async def check_due(self, now: datetime) -> int:
        """Judge every heartbeat whose alert threshold has passed by `now`; returns how many changed."""
        failing_after = self._failing_after

        def run(conn: sqlite3.Connection) -> tuple[list[Heartbeat], list[Flipped]]:
            changed: list[Heartbeat] = []
            flips: list[Flipped] = []
            for current in due_heartbeats(conn, now, DUE_BATCH):
                transition = on_threshold_passed(current, now, failing_after)
                if transition.heartbeat == current:
                    continue
                # Compare-and-set: a ping committed first wins and this verdict is dropped.
                if not update_heartbeat(conn, transition.heartbeat, current):
                    continue
                changed.append(transition.heartbeat)
                if (flip := flipped(current, transition)) is not None:
                    record_flip_sync(conn, flip)
                    flips.append(flip)
            return changed, flips

        changed, flips = await self._db.write_sync(run)
        for heartbeat in changed:
            self._bus.publish(HeartbeatChanged(heartbeat.account_id, heartbeat.id))
        for flip in flips:
            log.info(
                "heartbeat %s (%s) %s -> %s: %s",
                flip.subject_id,
                flip.subject_name,
                flip.old_status,
                flip.new_status,
                flip.reason,
            )
            self._bus.publish(flip)
        return len(changed)

    async def _rearm(self, reason: str, started_at: datetime, woke: datetime) -> int:
        """Re-arm from `woke` every heartbeat whose deadline or alert threshold fell in the unobserved stretch."""

        def run(conn: sqlite3.Connection) -> list[Heartbeat]:
            done: list[Heartbeat] = []
            for current in interrupted_heartbeats(conn, started_at, woke):
                after = rearmed(current, woke)
                if update_heartbeat(conn, after, current):
                    done.append(after)
            insert_gap(conn, reason, started_at, woke, len(done))
            return done

        done = await self._db.write_sync(run)
        self.gaps_detected += 1
        log.warning(
            "watchdog could not observe %s to %s (%s); re-armed %d heartbeat(s) from %s instead of counting misses",
            started_at.isoformat(),
            woke.isoformat(),
            "machine asleep or clock jumped" if reason == "suspend" else "server not running",
            len(done),
            woke.isoformat(),
        )
        for heartbeat in done:
            self._bus.publish(HeartbeatChanged(heartbeat.account_id, heartbeat.id))
        self._bus.publish(WatchdogGap(reason, started_at, woke, len(done)))
        return len(done)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Until the loop sleeps with nothing due (fake-time tests: after moving the clock)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # The sleeper task is created just before `_sleeping` is set; let it register with the clock first,
        # or a fake-time test could move the clock past a wake-up it cannot see yet.
        await settle()
        while not (
            self._sleeping
            and not self._wake.is_set()
            and self._planned is not None
            and self._planned > self._clock.now()
        ):
            if loop.time() > deadline:
                raise TimeoutError("watchdog did not settle")
            await asyncio.sleep(0.001)
            await settle()
