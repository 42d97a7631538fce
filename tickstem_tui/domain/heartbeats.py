"""Heartbeats (dead-man's switches): one model behind both the Tickstem and the CronSafe faces, and its rules."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.events import Flipped
from tickstem_tui.domain.validation import check_int, check_str

MIN_INTERVAL_SECS = 60
MAX_INTERVAL_SECS = 604_800
"""A week: the docs' own Node example sets `interval_secs: 604800` (contract C12)."""
MAX_GRACE_SECS = 86_400
DEFAULT_INTERVAL_SECS = 3_600
DEFAULT_GRACE_SECS = 300
MAX_NAME = 255
MAX_OUTPUT_CHARS = 10_000
"""Longest failure output kept per ping (CronSafe SDKs send up to 2,000 characters)."""
MAX_USER_AGENT = 512


class Face(StrEnum):
    """Which API a heartbeat was created through; decides its wire shape and a few rules."""

    TICKSTEM = "tickstem"
    CRONSAFE = "cronsafe"


class HeartbeatState(StrEnum):
    """The stored state; each face shows it in its own words (`tickstem_status`, `cronsafe_status`)."""

    NEW = "new"
    """Never pinged (CronSafe `pending`; Tickstem `active`)."""
    UP = "up"
    DOWN = "down"
    """Missed too often, or the job reported a failure (Tickstem `failing`)."""
    PAUSED = "paused"


class PingKind(StrEnum):
    SUCCESS = "success"
    START = "start"
    FAIL = "fail"


_TICKSTEM_STATUS = {
    HeartbeatState.NEW: "active",
    HeartbeatState.UP: "active",
    HeartbeatState.DOWN: "failing",
    HeartbeatState.PAUSED: "paused",
}
_CRONSAFE_STATUS = {
    HeartbeatState.NEW: "pending",
    HeartbeatState.UP: "up",
    HeartbeatState.DOWN: "down",
    HeartbeatState.PAUSED: "paused",
}


def tickstem_status(state: HeartbeatState) -> str:
    return _TICKSTEM_STATUS[state]


def cronsafe_status(state: HeartbeatState) -> str:
    """`paused` is outside CronSafe's documented enum; only the console can pause a CronSafe monitor."""
    return _CRONSAFE_STATUS[state]


def status_for(face: Face, state: HeartbeatState) -> str:
    return tickstem_status(state) if face is Face.TICKSTEM else cronsafe_status(state)


@dataclass(frozen=True, slots=True)
class HeartbeatSpec:
    """What a user controls about a heartbeat's timing."""

    name: str
    interval_secs: int = DEFAULT_INTERVAL_SECS
    grace_secs: int = DEFAULT_GRACE_SECS


@dataclass(frozen=True, slots=True)
class Heartbeat:
    id: str
    account_id: str
    face: Face
    spec: HeartbeatSpec
    token: str
    """64 lowercase hex characters: the Tickstem ping credential (every heartbeat has one)."""
    slug: str | None
    """The CronSafe ping identifier; None for Tickstem heartbeats."""
    state: HeartbeatState
    consecutive_misses: int
    last_ping_at: datetime | None
    last_start_at: datetime | None
    last_duration_ms: int | None
    last_failure_output: str | None
    next_expected_at: datetime | None
    """The deadline before grace: last ping (or creation/resume) + interval; None while unwatched."""
    alert_after: datetime | None
    """`next_expected_at` + grace: when the watchdog next looks at this heartbeat (stored, indexed)."""
    created_at: datetime
    updated_at: datetime
    alert_channels: list[dict[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def status(self) -> str:
        """The status in the words of the face this heartbeat belongs to."""
        return status_for(self.face, self.state)

    @property
    def paused(self) -> bool:
        return self.state is HeartbeatState.PAUSED


@dataclass(frozen=True, slots=True)
class PingRecord:
    """One received ping as history shows it."""

    id: str
    heartbeat_id: str
    kind: PingKind
    received_at: datetime
    ip: str | None
    user_agent: str | None
    output: str | None
    duration_ms: int | None
    paused: bool
    """Arrived while the heartbeat was paused, and changed nothing."""


@dataclass(frozen=True, slots=True)
class Transition:
    """A heartbeat after an event, and the health flip it caused (old and new face status), if any."""

    heartbeat: Heartbeat
    flip: tuple[str, str] | None = None
    reason: str = ""
    duration_ms: int | None = None
    """For a completion ping after a start ping: how long the run took."""


# -- input --------------------------------------------------------------------------------------
def _timing(data: dict[str, Any], base: HeartbeatSpec | None) -> tuple[int, int]:
    # Defaults apply only when a key is absent (or null): an explicit 0 grace is 0 (contract C13).
    interval = data.get("interval_secs")
    grace = data.get("grace_secs")
    if interval is None:
        interval = base.interval_secs if base else DEFAULT_INTERVAL_SECS
    if grace is None:
        grace = base.grace_secs if base else DEFAULT_GRACE_SECS
    return (
        check_int("interval_secs", interval, low=MIN_INTERVAL_SECS, high=MAX_INTERVAL_SECS),
        check_int("grace_secs", grace, low=0, high=MAX_GRACE_SECS),
    )


def parse_create(data: Any) -> HeartbeatSpec:
    """A Tickstem create body: `name` required, `interval_secs` 60 to 604800 (3600), `grace_secs` 0 to 86400 (300)."""
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    if data.get("name") is None:
        raise ValidationError("name is required")
    name = check_str("name", data["name"], max_len=MAX_NAME)
    interval, grace = _timing(data, None)
    return HeartbeatSpec(name, interval, grace)


def parse_update(data: Any, base: HeartbeatSpec) -> tuple[HeartbeatSpec, HeartbeatState | None]:
    """A partial update: absent keys keep their values; `status` may be `active` or `paused` only."""
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    name = base.name if data.get("name") is None else check_str("name", data["name"], max_len=MAX_NAME)
    interval, grace = _timing(data, base)
    status = data.get("status")
    change: HeartbeatState | None = None
    if status is not None:
        if status == "paused":
            change = HeartbeatState.PAUSED
        elif status == "active":
            change = HeartbeatState.UP
        else:
            raise ValidationError('status must be "active" or "paused"')
    return HeartbeatSpec(name, interval, grace), change


def clip_output(text: str | None) -> str | None:
    if text is None:
        return None
    return text[:MAX_OUTPUT_CHARS]


def clip_user_agent(text: str | None) -> str | None:
    return None if text is None else text[:MAX_USER_AGENT]


# -- rules --------------------------------------------------------------------------------------
def failing_threshold(face: Face, failing_after: int) -> int:
    """Misses that make a heartbeat fail: Tickstem's documented two (configurable); CronSafe alerts on the first."""
    return failing_after if face is Face.TICKSTEM else 1


def is_watched(heartbeat: Heartbeat) -> bool:
    """Tickstem heartbeats are watched from creation; CronSafe monitors stay `pending`, unwatched, until pinged."""
    if heartbeat.state is HeartbeatState.PAUSED:
        return False
    return heartbeat.face is Face.TICKSTEM or heartbeat.last_ping_at is not None


def armed(heartbeat: Heartbeat, start: datetime) -> Heartbeat:
    """A fresh window from `start`: deadline = start + interval, alert threshold = deadline + grace."""
    if not is_watched(heartbeat):
        return replace(heartbeat, next_expected_at=None, alert_after=None)
    deadline, alert_after = _window(heartbeat.spec, start)
    return replace(heartbeat, next_expected_at=deadline, alert_after=alert_after)


def _window(spec: HeartbeatSpec, start: datetime) -> tuple[datetime, datetime]:
    deadline = start + timedelta(seconds=spec.interval_secs)
    return deadline, deadline + timedelta(seconds=spec.grace_secs)


def new_heartbeat(
    *,
    id: str,
    account_id: str,
    face: Face,
    spec: HeartbeatSpec,
    token: str,
    slug: str | None,
    now: datetime,
    alert_channels: list[dict[str, str]] | None = None,
) -> Heartbeat:
    heartbeat = Heartbeat(
        id=id,
        account_id=account_id,
        face=face,
        spec=spec,
        token=token,
        slug=slug,
        state=HeartbeatState.NEW,
        consecutive_misses=0,
        last_ping_at=None,
        last_start_at=None,
        last_duration_ms=None,
        last_failure_output=None,
        next_expected_at=None,
        alert_after=None,
        created_at=now,
        updated_at=now,
        alert_channels=list(alert_channels or []),
    )
    return armed(heartbeat, now)


def with_spec(heartbeat: Heartbeat, spec: HeartbeatSpec, now: datetime) -> Heartbeat:
    """New timing keeps the current window's start: deadline = window start + the new interval.

    The window start is the deadline minus the old interval (the last ping, creation or resume, rolled
    forward by one interval per counted miss). A deadline that is already past is the watchdog's to count.
    """
    changed = replace(heartbeat, spec=spec, updated_at=now)
    if heartbeat.next_expected_at is None:
        return changed
    window_start = heartbeat.next_expected_at - timedelta(seconds=heartbeat.spec.interval_secs)
    return armed(changed, window_start)


def paused(heartbeat: Heartbeat, now: datetime) -> Heartbeat:
    """Paused heartbeats are not watched: missed pings are ignored and nothing alerts."""
    if heartbeat.state is HeartbeatState.PAUSED:
        return heartbeat
    return replace(heartbeat, state=HeartbeatState.PAUSED, next_expected_at=None, alert_after=None, updated_at=now)


def resumed(heartbeat: Heartbeat, now: datetime) -> Heartbeat:
    """Resume (or set `active`): misses reset and the deadline restarts from now; a failing verdict is cleared.

    Setting `active` on a heartbeat that is already healthy changes nothing (its window is kept).
    """
    if heartbeat.state in (HeartbeatState.NEW, HeartbeatState.UP):
        return heartbeat
    state = HeartbeatState.UP if heartbeat.last_ping_at is not None else HeartbeatState.NEW
    return armed(replace(heartbeat, state=state, consecutive_misses=0, updated_at=now), now)


def _run_duration(heartbeat: Heartbeat, now: datetime) -> int | None:
    start = heartbeat.last_start_at
    if start is None or (heartbeat.last_ping_at is not None and heartbeat.last_ping_at >= start):
        return None  # no start pending: this ping does not close a timed run
    return max(0, round((now - start).total_seconds() * 1000))


def on_ping(heartbeat: Heartbeat, kind: PingKind, now: datetime, output: str | None = None) -> Transition:
    """What one ping does. Paused heartbeats change nothing (the ping is still recorded by the caller).

    - success: alive; misses reset; the deadline restarts from now; `down` recovers (a flip).
    - start: the run began (duration tracking); status and deadline unchanged.
    - fail: the job ran and reported failure: `down` at once (a flip unless already down), output kept.
    """
    if heartbeat.state is HeartbeatState.PAUSED:
        return Transition(heartbeat)
    if kind is PingKind.START:
        return Transition(replace(heartbeat, last_start_at=now))
    duration = _run_duration(heartbeat, now)
    # Alive, misses reset, a fresh window from now (a pinged, unpaused heartbeat is always watched). One
    # replace() with every change: this runs for each ping, and each replace() of a Heartbeat costs ~10 us.
    deadline, alert_after = _window(heartbeat.spec, now)
    changes: dict[str, Any] = {
        "last_ping_at": now,
        "consecutive_misses": 0,
        "last_duration_ms": duration if duration is not None else heartbeat.last_duration_ms,
        "next_expected_at": deadline,
        "alert_after": alert_after,
    }
    old_status = heartbeat.status
    if kind is PingKind.FAIL:
        changes.update(state=HeartbeatState.DOWN, last_failure_output=clip_output(output))
        if heartbeat.state is HeartbeatState.DOWN:
            return Transition(replace(heartbeat, **changes), duration_ms=duration)
        after = replace(heartbeat, updated_at=now, **changes)
        reason = "the job reported a failure"
        if output:
            reason += f": {output[:200]}"
        return Transition(after, (old_status, after.status), reason, duration)
    changes["state"] = HeartbeatState.UP
    if heartbeat.state is HeartbeatState.DOWN:
        after = replace(heartbeat, updated_at=now, **changes)
        return Transition(after, (old_status, after.status), "a ping arrived", duration)
    return Transition(replace(heartbeat, **changes), duration_ms=duration)


def on_threshold_passed(heartbeat: Heartbeat, now: datetime, failing_after: int) -> Transition:
    """The watchdog's rule once `alert_after` has passed with no ping.

    Each interval past the threshold is one miss, so the deadline rolls forward by whole intervals
    (a late look counts every interval it covers, not just one); reaching the face's threshold of
    consecutive misses turns the heartbeat `down` with a flip, once per incident.
    """
    alert_after, deadline = heartbeat.alert_after, heartbeat.next_expected_at
    if alert_after is None or deadline is None or alert_after > now or not is_watched(heartbeat):
        return Transition(heartbeat)
    interval = timedelta(seconds=heartbeat.spec.interval_secs)
    missed = (now - alert_after) // interval + 1
    misses = heartbeat.consecutive_misses + missed
    after = replace(
        heartbeat,
        consecutive_misses=misses,
        next_expected_at=deadline + missed * interval,
        alert_after=alert_after + missed * interval,
    )
    if heartbeat.state is HeartbeatState.DOWN or misses < failing_threshold(heartbeat.face, failing_after):
        return Transition(after)
    down = replace(after, state=HeartbeatState.DOWN, updated_at=now)
    since = "it was created" if heartbeat.last_ping_at is None else "the last ping"
    reason = (
        f"{misses} consecutive missed ping{'s' if misses != 1 else ''} "
        f"(expected every {heartbeat.spec.interval_secs}s + {heartbeat.spec.grace_secs}s grace since {since})"
    )
    return Transition(down, (heartbeat.status, down.status), reason)


def rearmed(heartbeat: Heartbeat, now: datetime) -> Heartbeat:
    """After a gap the watchdog could not observe (suspend, server stopped): a fresh window from `now`.

    Misses are neither counted nor reset: nothing was observed either way.
    """
    return armed(heartbeat, now)


def flipped(before: Heartbeat, transition: Transition) -> Flipped | None:
    """The flip row/event for a transition that changed health, in the face's own status words."""
    if transition.flip is None:
        return None
    old, new = transition.flip
    return Flipped(
        before.account_id,
        "heartbeat",
        before.id,
        before.name,
        old,
        new,
        transition.reason,
        transition.heartbeat.updated_at,
    )
