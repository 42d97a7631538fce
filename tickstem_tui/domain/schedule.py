"""Five-field cron schedules in UTC: validation, next fire times and plain-English descriptions."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from tickstem_tui.domain.errors import ValidationError

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def normalize(expression: str) -> str:
    """Validate and return the canonical 5-field form (descriptors expanded, whitespace folded)."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValidationError("invalid cron expression: schedule must be a non-empty string")
    text = " ".join(expression.split())
    text = DESCRIPTORS.get(text.lower(), text)
    if len(text.split(" ")) != 5:
        raise ValidationError(
            f"invalid cron expression {expression!r}: expected 5 fields (minute hour day month weekday)"
        )
    try:
        _check(text)
    except (CronSimError, ValueError) as exc:
        raise ValidationError(f"invalid cron expression {expression!r}: {exc}") from exc
    return text


@functools.lru_cache(maxsize=4096)
def _check(text: str) -> None:
    """Parse once per distinct expression: jobs are registered again on every deploy (only passes are cached)."""
    CronSim(text, datetime(2026, 1, 1, tzinfo=UTC))


class Schedule:
    """A parsed schedule; Vixie semantics (day-of-month OR day-of-week when both are restricted)."""

    __slots__ = ("expression",)

    def __init__(self, expression: str) -> None:
        self.expression = normalize(expression)

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment` (UTC, whole minutes)."""
        return next(CronSim(self.expression, moment))

    def upcoming(self, moment: datetime, count: int) -> list[datetime]:
        it = CronSim(self.expression, moment)
        return [next(it) for _ in range(count)]

    def fire_times_between(self, start: datetime, end: datetime, limit: int) -> Iterator[datetime]:
        """Fire times in [start, end), at most `limit` of them."""
        it = CronSim(self.expression, start - timedelta(seconds=1))
        for _ in range(limit):
            moment = next(it)
            if moment >= end:
                return
            yield moment

    def describe(self) -> str:
        """Plain English, e.g. 'At 02:00 on Monday through Friday' (times are UTC)."""
        return str(CronSim(self.expression, datetime(2026, 1, 1, tzinfo=UTC)).explain())
