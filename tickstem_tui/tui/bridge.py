"""Bus → Textual: events fold into one pending batch per entity, posted to the app at most every `interval`.

The bus calls listeners synchronously inside the services, so the listener only records *what* changed
(ids, the latest run or check) in bounded maps; the app fetches fresh rows when the batch arrives. A batch
is posted only after the app finished the previous one (credit-based), so a flood of events costs one
batch per interval, never a queue: per-entity folding bounds memory by the number of entities, and past
`max_entities` a kind collapses to "reload everything".
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from textual.app import App
from textual.message import Message

from tickstem_tui.domain.alerts import Direction, alert_for
from tickstem_tui.domain.events import (
    CheckRecorded,
    Event,
    ExecutionFinished,
    ExecutionStarted,
    Flipped,
    HeartbeatChanged,
    JobChanged,
    MonitorChanged,
    Notice,
    PingReceived,
    WatchdogGap,
)
from tickstem_tui.domain.monitors import CERTIFICATE_EXPIRING
from tickstem_tui.services.bus import EventBus
from tickstem_tui.tui import format as fmt

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
"""Seconds between batches: fast enough to feel live, slow enough that a burst becomes one repaint."""
MAX_ENTITIES = 2_000
"""Changed ids remembered per kind before the kind collapses to a full reload."""
MAX_TOASTS = 8
"""Toasts per batch; more in one batch become a single summary toast."""
FEED_SIZE = 200
"""Recent events kept for the overview."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The latest execution the bus told us about (status `running` until it finishes)."""

    execution_id: str
    status: str
    status_code: int | None
    duration_ms: int | None
    at: datetime | None = None
    """When the run started (as far as the console knows)."""


@dataclass(frozen=True, slots=True)
class CheckInfo:
    check_id: str
    status: str
    status_code: int | None
    duration_ms: int
    at: datetime
    monitor_status: str | None = None
    """The monitor's status after this check (a change means its row must be re-read)."""


@dataclass(frozen=True, slots=True)
class Toast:
    message: str
    severity: str = "information"
    title: str = ""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One line of the overview's recent events."""

    at: datetime
    text: str
    tone: str = "muted"


@dataclass(slots=True)
class Changes:
    """Everything that changed since the last batch, folded per entity."""

    jobs: dict[str, bool] = field(default_factory=dict)
    """Job id → deleted."""
    runs: dict[str, RunInfo] = field(default_factory=dict)
    monitors: dict[str, bool] = field(default_factory=dict)
    checks: dict[str, CheckInfo] = field(default_factory=dict)
    heartbeats: dict[str, bool] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)
    """Heartbeat id → its account (the console shows every account's heartbeats)."""
    pings: set[str] = field(default_factory=set)
    reload: set[str] = field(default_factory=set)
    """Kinds ("jobs", "monitors", "heartbeats") with too many changes to track one by one."""
    toasts: list[Toast] = field(default_factory=list)
    dropped_toasts: int = 0
    feed: list[FeedItem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.jobs
            or self.runs
            or self.monitors
            or self.checks
            or self.heartbeats
            or self.pings
            or self.reload
            or self.toasts
            or self.dropped_toasts
            or self.feed
        )


class ConsoleChanges(Message):
    """A batch of changes from the services; the app answers with `Bridge.done()`."""

    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self.changes = changes


class Bridge:
    """Subscribes to the bus for one account and posts `ConsoleChanges` batches to the app."""

    def __init__(
        self,
        app: App[Any],
        bus: EventBus,
        account_id: str,
        *,
        now: Callable[[], datetime],
        names: Callable[[str, str], str | None] | None = None,
        interval: float = FLUSH_INTERVAL,
        max_entities: int = MAX_ENTITIES,
    ) -> None:
        self._app = app
        self._bus = bus
        self._account_id = account_id
        self._now = now
        self._names = names or (lambda kind, entity_id: None)
        self.interval = interval
        self.max_entities = max_entities
        self._pending = Changes()
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight = False
        self._last_flush = float("-inf")
        self._unsubscribe: Callable[[], None] | None = None
        self._alerted: dict[str, Direction] = {}
        """Last toast direction per subject: a thing that stays failing is not announced again."""
        self.feed: deque[FeedItem] = deque(maxlen=FEED_SIZE)
        self.batches = 0

    def start(self) -> None:
        self._unsubscribe = self._bus.subscribe(self.on_event)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def done(self) -> None:
        """The app applied the last batch; send the next one if anything is waiting."""
        self._in_flight = False
        if self._pending:
            self._schedule()

    # -- folding -----------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Bus listener: record the change and make sure a batch is on its way. Never blocks, never raises."""
        try:
            if self._fold(event):
                self._schedule()
        except Exception:
            log.exception("console bridge could not take %r", event)

    def _fold(self, event: Event) -> bool:
        pending = self._pending
        if isinstance(event, Notice):
            self._toast(Toast(event.message, _severity(event.severity)))
            self._add_feed(FeedItem(self._now(), event.message, "warn"))
            return True
        if isinstance(event, WatchdogGap):
            text = (
                f"Watchdog could not watch from {fmt.clock(event.started_at)} to {fmt.clock(event.ended_at)} "
                f"({event.reason}); {event.rearmed} deadline(s) re-armed"
            )
            self._toast(Toast(text, "warning"))
            self._add_feed(FeedItem(event.ended_at, text, "warn"))
            return True
        # The owner's console shows every account's heartbeats (CronSafe users are further accounts on this
        # machine); everything else, and alerts, only for the owner.
        if getattr(event, "account_id", None) != self._account_id and not isinstance(
            event, HeartbeatChanged | PingReceived
        ):
            return False
        if isinstance(event, JobChanged):
            self._mark(pending.jobs, "jobs", event.job_id, event.deleted)
        elif isinstance(event, ExecutionStarted):
            # Runs carry everything the row shows; the job itself is re-read only on JobChanged or Flipped.
            pending.runs[event.job_id] = RunInfo(event.execution_id, "running", None, None, self._now())
        elif isinstance(event, ExecutionFinished):
            started = pending.runs.get(event.job_id)
            at = started.at if started is not None and started.execution_id == event.execution_id else None
            pending.runs[event.job_id] = RunInfo(
                event.execution_id, event.status, event.status_code, event.duration_ms, at or self._now()
            )
            if event.status != "success":
                code = f" (HTTP {event.status_code})" if event.status_code else ""
                name = self._names("job", event.job_id) or event.job_id
                self._add_feed(FeedItem(self._now(), f"job “{name}” run {event.status}{code}", "bad"))
        elif isinstance(event, MonitorChanged):
            self._mark(pending.monitors, "monitors", event.monitor_id, event.deleted)
        elif isinstance(event, CheckRecorded):
            pending.checks[event.monitor_id] = CheckInfo(
                event.check_id, event.status, event.status_code, event.duration_ms, event.at, event.monitor_status
            )
        elif isinstance(event, HeartbeatChanged):
            self._mark(pending.heartbeats, "heartbeats", event.heartbeat_id, event.deleted)
            pending.owners[event.heartbeat_id] = event.account_id
        elif isinstance(event, PingReceived):
            self._mark(pending.heartbeats, "heartbeats", event.heartbeat_id, False)
            pending.owners[event.heartbeat_id] = event.account_id
            if len(pending.pings) < self.max_entities:
                pending.pings.add(event.heartbeat_id)
        elif isinstance(event, Flipped):
            self._flipped(event)
        else:
            return False
        # Runs and checks only carry the latest per entity; cap them with the entity maps.
        if len(pending.runs) > self.max_entities:
            pending.runs.clear()
        if len(pending.checks) > self.max_entities:
            pending.checks.clear()
        if len(pending.owners) > self.max_entities:
            pending.owners.clear()  # heartbeats has overflowed to a full reload too, which needs no owners
        return True

    def _mark(self, target: dict[str, bool], kind: str, entity_id: str, deleted: bool) -> None:
        if kind in self._pending.reload:
            return
        # Deleted wins: a change queued before the delete must not resurrect the row.
        target[entity_id] = deleted or target.get(entity_id, False)
        if len(target) > self.max_entities:
            target.clear()
            self._pending.reload.add(kind)

    def _flipped(self, flip: Flipped) -> None:
        kind = flip.subject_kind
        self._mark_subject(kind, flip.subject_id)
        alert = alert_for(0, flip)
        tone = "bad" if flip.new_status in ("failing", "down", CERTIFICATE_EXPIRING) else "ok"
        text = f"{kind} “{flip.subject_name}” {flip.old_status} → {flip.new_status}"
        if flip.reason:
            text += f": {fmt.one_line(flip.reason, 120)}"
        self._add_feed(FeedItem(flip.at, text, tone))
        if alert is None:
            return
        if alert.direction is Direction.WARNING:  # once per certificate already; says nothing of up or down
            self._toast(Toast(fmt.one_line(alert.reason, 200), "warning", alert.title))
            return
        if self._alerted.get(flip.subject_id) is alert.direction:
            return
        if alert.direction is Direction.DOWN:
            self._alerted[flip.subject_id] = alert.direction
        else:
            self._alerted.pop(flip.subject_id, None)
        severity = "error" if alert.direction is Direction.DOWN else "information"
        self._toast(Toast(fmt.one_line(alert.reason, 200), severity, alert.title))

    def _mark_subject(self, kind: str, subject_id: str) -> None:
        if kind == "job":
            self._mark(self._pending.jobs, "jobs", subject_id, False)
        elif kind == "monitor":
            self._mark(self._pending.monitors, "monitors", subject_id, False)
        elif kind == "heartbeat":
            self._mark(self._pending.heartbeats, "heartbeats", subject_id, False)

    def _toast(self, toast: Toast) -> None:
        if len(self._pending.toasts) < MAX_TOASTS:
            self._pending.toasts.append(toast)
        else:
            self._pending.dropped_toasts += 1

    def _add_feed(self, item: FeedItem) -> None:
        self.feed.appendleft(item)
        if len(self._pending.feed) < FEED_SIZE:
            self._pending.feed.append(item)

    # -- posting -----------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._timer is not None or self._in_flight:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        # Leading edge: after a quiet spell the batch leaves on the next turn of the loop (a burst published in
        # one go is still one batch); otherwise batches stay `interval` apart.
        wait = max(0.0, self._last_flush + self.interval - loop.time())
        self._timer = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        self._timer = None
        if not self._pending or self._in_flight:
            return
        batch, self._pending = self._pending, Changes()
        self._in_flight = True
        self._last_flush = asyncio.get_running_loop().time()
        self.batches += 1
        if not self._app.post_message(ConsoleChanges(batch)):
            self._in_flight = False  # the app is closing; nothing will answer


def _severity(word: str) -> str:
    return word if word in ("information", "warning", "error") else "information"
