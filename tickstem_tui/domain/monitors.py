"""Uptime monitors and their checks: the shapes, the input rules, the assertion rules and the state rule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from tickstem_tui.domain.errors import QuotaExceeded, ValidationError
from tickstem_tui.domain.events import Flipped
from tickstem_tui.domain.validation import check_http_url, check_int, check_str

_E = TypeVar("_E", bound=StrEnum)

DEFAULT_INTERVAL_SECS = 60
MAX_INTERVAL_SECS = 86_400
DEFAULT_TIMEOUT_SECS = 10
MIN_TIMEOUT_SECS = 5
MAX_TIMEOUT_SECS = 30
MAX_ASSERTIONS = 20
MAX_BODY_TARGET = 1_000
"""Longest `body` assertion target; far below the body bytes a check reads, so `eq` stays decidable."""
MAX_STATUS_TARGET = 999
MAX_RESPONSE_TIME_TARGET = 3_600_000
ROLLUP_RETENTION = timedelta(days=400)
"""Hourly uptime roll-ups are tiny; over a year of them outlives any raw-check retention."""


class MonitorStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    FAILING = "failing"


class CheckStatus(StrEnum):
    UP = "up"
    DOWN = "down"
    TIMEOUT = "timeout"


class Source(StrEnum):
    STATUS_CODE = "status_code"
    RESPONSE_TIME = "response_time"
    BODY = "body"


class Comparison(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"


NUMERIC_COMPARISONS = (Comparison.EQ, Comparison.NE, Comparison.LT, Comparison.LTE, Comparison.GT, Comparison.GTE)
BODY_COMPARISONS = (Comparison.EQ, Comparison.NE, Comparison.CONTAINS, Comparison.NOT_CONTAINS)
_ALLOWED = {
    Source.STATUS_CODE: NUMERIC_COMPARISONS,
    Source.RESPONSE_TIME: NUMERIC_COMPARISONS,
    Source.BODY: BODY_COMPARISONS,
}
_SYMBOL = {
    Comparison.EQ: "==",
    Comparison.NE: "!=",
    Comparison.LT: "<",
    Comparison.LTE: "<=",
    Comparison.GT: ">",
    Comparison.GTE: ">=",
    Comparison.CONTAINS: "contains",
    Comparison.NOT_CONTAINS: "does not contain",
}


@dataclass(frozen=True, slots=True)
class Assertion:
    """One rule a check's response must satisfy; `target` is always a string on the wire."""

    source: Source
    comparison: Comparison
    target: str

    def describe(self) -> str:
        """e.g. `status_code eq 200` (the words the API uses, so errors match what the user sent)."""
        return f"{self.source.value} {self.comparison.value} {self.target!r}"


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    """What a user controls about a monitor; validated as a whole."""

    name: str
    url: str
    interval_secs: int = DEFAULT_INTERVAL_SECS
    timeout_secs: int = DEFAULT_TIMEOUT_SECS
    assertions: tuple[Assertion, ...] = ()

    @property
    def is_https(self) -> bool:
        return self.url.lower().startswith("https://")

    @property
    def reads_body(self) -> bool:
        return any(a.source is Source.BODY for a in self.assertions)


@dataclass(frozen=True, slots=True)
class Monitor:
    id: str
    account_id: str
    spec: MonitorSpec
    status: MonitorStatus
    consecutive_failures: int
    ssl_expires_at: datetime | None
    next_check_at: datetime | None
    last_checked_at: datetime | None
    last_check_status: CheckStatus | None
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_checked(self) -> bool:
        """Active and failing monitors are polled; paused ones are not."""
        return self.status is not MonitorStatus.PAUSED


@dataclass(frozen=True, slots=True)
class MonitorCheck:
    id: str
    monitor_id: str
    status: CheckStatus
    status_code: int | None
    duration_ms: int
    error: str
    ssl_expires_at: datetime | None
    checked_at: datetime


@dataclass(frozen=True, slots=True)
class Uptime:
    """Share of `up` checks per window, in percent (None when the window holds no checks)."""

    day: float | None = None
    week: float | None = None
    month: float | None = None
    avg_response_ms_day: int | None = None


# -- input ---------------------------------------------------------------------------------------
_SPEC_FIELDS = ("name", "url", "interval_secs", "timeout_secs", "assertions")


def parse_spec(data: dict[str, Any], min_interval_secs: int, base: MonitorSpec | None = None) -> MonitorSpec:
    """Build a spec from a create or PATCH body; with `base`, absent (or null) keys keep their values.

    `interval_secs` below the configured minimum is a plan limit (402), everything else a 400.
    """
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    merged: dict[str, Any] = {}
    if base is not None:
        merged = {name: getattr(base, name) for name in _SPEC_FIELDS}
    for name in _SPEC_FIELDS:
        if data.get(name) is not None:
            merged[name] = data[name]
    for required in ("name", "url"):
        if required not in merged:
            raise ValidationError(f"{required} is required")
    interval = check_int(
        "interval_secs", merged.get("interval_secs", DEFAULT_INTERVAL_SECS), low=1, high=MAX_INTERVAL_SECS
    )
    if interval < min_interval_secs:
        raise QuotaExceeded(f"interval_secs {interval} is below the minimum of {min_interval_secs} seconds")
    assertions = merged.get("assertions", ())
    if base is None or "assertions" in data:
        assertions = parse_assertions(assertions)
    return MonitorSpec(
        name=check_str("name", merged["name"], max_len=200),
        url=check_http_url("url", merged["url"]),
        interval_secs=interval,
        timeout_secs=check_int(
            "timeout_secs",
            merged.get("timeout_secs", DEFAULT_TIMEOUT_SECS),
            low=MIN_TIMEOUT_SECS,
            high=MAX_TIMEOUT_SECS,
        ),
        assertions=tuple(assertions),
    )


def parse_assertions(value: Any) -> tuple[Assertion, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValidationError("assertions must be an array")
    if len(value) > MAX_ASSERTIONS:
        raise ValidationError(f"at most {MAX_ASSERTIONS} assertions are allowed")
    return tuple(parse_assertion(item, index) for index, item in enumerate(value))


def parse_assertion(item: Any, index: int = 0) -> Assertion:
    where = f"assertions[{index}]"
    if isinstance(item, Assertion):
        return item
    if not isinstance(item, dict):
        raise ValidationError(f"{where} must be an object with source, comparison and target")
    source_text, comparison_text, target = item.get("source"), item.get("comparison"), item.get("target")
    source = _member(Source, source_text)
    if source is None:
        raise ValidationError(f"{where}.source must be one of {', '.join(Source)}, not {source_text!r}")
    comparison = _member(Comparison, comparison_text)
    if comparison is None:
        raise ValidationError(f"{where}.comparison must be one of {', '.join(Comparison)}, not {comparison_text!r}")
    allowed = _ALLOWED[source]
    if comparison not in allowed:
        raise ValidationError(
            f"{where}: comparison {comparison.value!r} cannot be used with source {source.value!r} "
            f"(use {', '.join(c.value for c in allowed)})"
        )
    if target is None:
        raise ValidationError(f"{where}.target is required")
    if source is Source.BODY:
        if not isinstance(target, str):
            raise ValidationError(f"{where}.target must be a string")
        if len(target) > MAX_BODY_TARGET:
            raise ValidationError(f"{where}.target must be at most {MAX_BODY_TARGET} characters")
        return Assertion(source, comparison, target)
    return Assertion(source, comparison, _integer_target(where, source, target))


def _member(kind: type[_E], value: Any) -> _E | None:
    if not isinstance(value, str):
        return None
    try:
        return kind(value)
    except ValueError:
        return None


def _integer_target(where: str, source: Source, target: Any) -> str:
    # The wire type is a string; a bare JSON integer is accepted too and stored in its string form.
    if isinstance(target, int) and not isinstance(target, bool):
        text = str(target)
    elif isinstance(target, str):
        text = target.strip()
    else:
        raise ValidationError(f'{where}.target must be an integer string such as "200"')
    if not text.isascii() or not text.isdigit():
        raise ValidationError(f"{where}.target must be a non-negative integer string, not {target!r}")
    high = MAX_STATUS_TARGET if source is Source.STATUS_CODE else MAX_RESPONSE_TIME_TARGET
    if int(text) > high:
        raise ValidationError(f"{where}.target must be at most {high} for {source.value}")
    return str(int(text))


def parse_status_change(value: Any) -> MonitorStatus:
    """Users may set active or paused; failing is the poller's verdict, never an input."""
    if value not in (MonitorStatus.ACTIVE.value, MonitorStatus.PAUSED.value):
        raise ValidationError('status must be "active" or "paused"')
    return MonitorStatus(value)


# -- checking ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Response:
    """What a check observed of an HTTP answer; `body` is the bounded prefix the checker read."""

    status_code: int
    duration_ms: int
    body: str = ""
    body_truncated: bool = False


def _numeric(comparison: Comparison, actual: int, target: int) -> bool:
    match comparison:
        case Comparison.EQ:
            return actual == target
        case Comparison.NE:
            return actual != target
        case Comparison.LT:
            return actual < target
        case Comparison.LTE:
            return actual <= target
        case Comparison.GT:
            return actual > target
        case Comparison.GTE:
            return actual >= target
    raise ValueError(comparison)  # parse_assertion never lets a body comparison reach here


def _body(comparison: Comparison, response: Response, target: str) -> bool:
    match comparison:
        case Comparison.CONTAINS:
            return target in response.body
        case Comparison.NOT_CONTAINS:
            # A truncated body may hide the text further on; only what was read can be vouched for.
            return target not in response.body
        case Comparison.EQ:
            # Surrounding whitespace is ignored: `ok` should match a health endpoint answering `ok\n`.
            return not response.body_truncated and response.body.strip() == target.strip()
        case Comparison.NE:
            return response.body_truncated or response.body.strip() != target.strip()
    raise ValueError(comparison)


def assertion_holds(assertion: Assertion, response: Response) -> bool:
    match assertion.source:
        case Source.STATUS_CODE:
            return _numeric(assertion.comparison, response.status_code, int(assertion.target))
        case Source.RESPONSE_TIME:
            return _numeric(assertion.comparison, response.duration_ms, int(assertion.target))
        case Source.BODY:
            return _body(assertion.comparison, response, assertion.target)


def _actual(assertion: Assertion, response: Response) -> str:
    match assertion.source:
        case Source.STATUS_CODE:
            return f"got {response.status_code}"
        case Source.RESPONSE_TIME:
            return f"took {response.duration_ms} ms"
        case Source.BODY:
            excerpt = response.body.strip()[:80]
            more = "…" if response.body_truncated or len(response.body.strip()) > 80 else ""
            return f"body was {excerpt!r}{more}"


def evaluate_assertions(assertions: tuple[Assertion, ...], response: Response) -> str | None:
    """None when every assertion holds, else an error naming each one that failed."""
    failed = [a for a in assertions if not assertion_holds(a, response)]
    if not failed:
        return None
    return "; ".join(f"assertion failed: {a.describe()} ({_actual(a, response)})" for a in failed)


def classify(spec: MonitorSpec, response: Response) -> tuple[CheckStatus, str]:
    """Up or down for an answered request. Assertions, when present, replace the 2xx/3xx rule."""
    if spec.assertions:
        error = evaluate_assertions(spec.assertions, response)
        return (CheckStatus.UP, "") if error is None else (CheckStatus.DOWN, error)
    if 200 <= response.status_code < 400:
        return CheckStatus.UP, ""
    return CheckStatus.DOWN, f"HTTP {response.status_code} response"


def is_failure(status: CheckStatus) -> bool:
    return status is not CheckStatus.UP


def status_after_check(monitor: Monitor, outcome: CheckStatus, failing_after: int) -> tuple[MonitorStatus, int]:
    """The monitor's status and failure streak after one check.

    `failing_after` consecutive failed checks (down or timeout) make it failing; the next success makes
    it active again. A paused monitor (the check was already in flight when it was paused) stays paused
    with its streak untouched.
    """
    if monitor.status is MonitorStatus.PAUSED:
        return monitor.status, monitor.consecutive_failures
    if not is_failure(outcome):
        return MonitorStatus.ACTIVE, 0
    streak = monitor.consecutive_failures + 1
    if streak >= failing_after:
        return MonitorStatus.FAILING, streak
    return monitor.status, streak


def with_status(monitor: Monitor, status: MonitorStatus, now: datetime) -> Monitor:
    """A user's pause or resume: pausing stops the schedule, resuming clears the streak and checks now."""
    if status is MonitorStatus.PAUSED:
        return replace(monitor, status=status, next_check_at=None, updated_at=now)
    next_check = monitor.next_check_at if monitor.status is not MonitorStatus.PAUSED else None
    return replace(
        monitor,
        status=MonitorStatus.ACTIVE,
        consecutive_failures=0,
        next_check_at=next_check or now,
        updated_at=now,
    )


def replan(monitor: Monitor, old: MonitorSpec, now: datetime) -> datetime | None:
    """The next check after an edit: a new URL is checked at once, a shorter interval takes effect now."""
    if not monitor.is_checked:
        return None
    if monitor.next_check_at is None or monitor.spec.url != old.url:
        return now
    return min(monitor.next_check_at, now + timedelta(seconds=monitor.spec.interval_secs))


def hour_start(moment: datetime) -> datetime:
    """The UTC hour a check's roll-up bucket starts at."""
    return moment.replace(minute=0, second=0, microsecond=0)


UPTIME_WINDOWS = {"day": timedelta(hours=24), "week": timedelta(days=7), "month": timedelta(days=30)}


def window_start(now: datetime, span: timedelta) -> datetime:
    """First hourly bucket in a window: the last `span` worth of hours, the current partial hour included."""
    return hour_start(now) - span + timedelta(hours=1)


def percent(up: int, total: int) -> float | None:
    if total <= 0:
        return None
    # Floor to 3 decimals: 99.9996% must not read as 100% while a check failed.
    return int(up * 100_000 / total) / 1000


CERTIFICATE_OK = "certificate ok"
CERTIFICATE_EXPIRING = "certificate expiring"


def certificate_flip(before: Monitor, after: Monitor, warn_days: int) -> Flipped | None:
    """A flip when a check finds the TLS certificate within `warn_days` of expiry, and when it is renewed.

    Each side is judged at its own check time, so a certificate that simply gets older crosses into the
    window once (one warning), a restart warns no one again, and a renewed certificate is noted (quietly).
    """
    if warn_days <= 0 or after.last_checked_at is None:
        return None
    window = timedelta(days=warn_days)
    was = _expiring(before.ssl_expires_at, before.last_checked_at, window)
    now_expiring = _expiring(after.ssl_expires_at, after.last_checked_at, window)
    if now_expiring == was or after.ssl_expires_at is None:
        return None
    expires = after.ssl_expires_at.strftime("%Y-%m-%d %H:%M UTC")
    if now_expiring:
        left = after.ssl_expires_at - after.last_checked_at
        when = "has expired" if left <= timedelta(0) else f"expires in {_days(left)}"
        reason, old, new = f"TLS certificate {when} ({expires})", CERTIFICATE_OK, CERTIFICATE_EXPIRING
    else:
        reason, old, new = f"TLS certificate renewed; it now expires {expires}", CERTIFICATE_EXPIRING, CERTIFICATE_OK
    return Flipped(after.account_id, "monitor", after.id, after.name, old, new, reason, after.last_checked_at)


def _expiring(expires_at: datetime | None, checked_at: datetime | None, window: timedelta) -> bool:
    return expires_at is not None and checked_at is not None and expires_at - checked_at <= window


def _days(left: timedelta) -> str:
    days = left.days
    if days == 0:
        return "less than a day"
    return f"{days} day{'s' if days != 1 else ''}"
