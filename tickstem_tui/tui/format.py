"""How the console writes times, durations and statuses: pure functions, no Textual."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from tickstem_tui.domain.schedule import Schedule

DASH = "—"

_TONES = {
    "active": "ok",
    "up": "ok",
    "success": "ok",
    "valid": "ok",
    "failing": "bad",
    "down": "bad",
    "failed": "bad",
    "timeout": "bad",
    "invalid": "bad",
    "paused": "muted",
    "pending": "muted",
    "new": "muted",
    "running": "accent",
    "missed": "warn",
    "late": "warn",
}


def tone(status: str) -> str:
    """The colour family of a status word (a VirtualTable tone)."""
    return _TONES.get(status, "muted")


def span(seconds: float) -> str:
    """A compact length of time: `42s`, `4m 10s`, `3h 5m`, `2d 4h`."""
    total = int(abs(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def ago(moment: datetime | None, now: datetime, never: str = "never") -> str:
    if moment is None:
        return never
    seconds = (now - moment).total_seconds()
    if seconds < 1:
        return "just now"
    return f"{span(seconds)} ago"


def until(moment: datetime | None, now: datetime) -> str:
    """`in 4m 10s`, or `4m 10s late` once the moment has passed."""
    if moment is None:
        return DASH
    seconds = (moment - now).total_seconds()
    if seconds >= 0:
        return f"in {span(seconds)}"
    return f"{span(-seconds)} late"


def clock(moment: datetime | None) -> str:
    """`2026-05-01 11:58:30` (UTC, as everywhere in the console)."""
    if moment is None:
        return DASH
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def duration_ms(ms: int | None) -> str:
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    return span(ms / 1000)


def percent(value: float | None) -> str:
    if value is None:
        return DASH
    if value >= 100:
        return "100%"
    return f"{value:.2f}%"


def uptime_tone(value: float | None) -> str:
    if value is None:
        return "muted"
    if value >= 99.0:
        return "ok"
    return "warn" if value >= 95.0 else "bad"


def cert_expiry(expires: datetime | None, now: datetime) -> tuple[str, str]:
    """Text and tone for a certificate's expiry: warn inside two weeks, bad once expired."""
    if expires is None:
        return DASH, "muted"
    left = expires - now
    if left.total_seconds() <= 0:
        return f"expired {span(-left.total_seconds())} ago", "bad"
    text = f"{expires:%Y-%m-%d} ({span(left.total_seconds()).split()[0]})"
    return text, "warn" if left < timedelta(days=14) else "ok"


@lru_cache(maxsize=4096)
def describe_schedule(expression: str) -> str:
    """The schedule in words; cached because a thousand jobs share a few dozen expressions."""
    try:
        return Schedule(expression).describe()
    except Exception:  # a stored expression is valid; this only guards the display against surprises
        return expression


def next_runs(expression: str, now: datetime, count: int = 5) -> list[str]:
    """The next `count` fire times in words, e.g. `Fri 1 May 2026 12:00 UTC (in 1m 30s)`."""
    return [
        f"{moment:%a} {moment.day} {moment:%b %Y %H:%M} UTC ({until(moment, now)})"
        for moment in Schedule(expression).upcoming(now, count)
    ]


def one_line(text: str | None, limit: int = 200) -> str:
    """Error texts and outputs squeezed onto a table line."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
