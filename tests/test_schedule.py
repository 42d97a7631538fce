"""Cron schedules in UTC: validation and next fire times at the edges."""

from __future__ import annotations

import pytest

from tickstem_tui.clock import utc
from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.schedule import Schedule, normalize


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/15 * * * *", utc(2026, 12, 31, 23, 50), utc(2027, 1, 1, 0, 0)),
        ("*/15 * * * *", utc(2026, 3, 1, 10, 15), utc(2026, 3, 1, 10, 30)),
        ("0 0 31 * *", utc(2026, 1, 31, 12), utc(2026, 3, 31)),
        ("0 0 30 * *", utc(2026, 1, 31), utc(2026, 3, 30)),
        ("0 0 29 2 *", utc(2026, 1, 1), utc(2028, 2, 29)),
        ("59 23 28-31 * *", utc(2026, 2, 28, 23, 59), utc(2026, 3, 28, 23, 59)),
        ("0 9 * * 0", utc(2026, 1, 31, 12), utc(2026, 2, 1, 9)),
        ("0 9 * * 7", utc(2026, 1, 31, 12), utc(2026, 2, 1, 9)),
        ("0 9 * * SUN", utc(2026, 1, 31, 12), utc(2026, 2, 1, 9)),
        ("0 0 1 JAN *", utc(2026, 6, 1), utc(2027, 1, 1)),
        ("30 2 * * 1-5", utc(2026, 5, 1, 3), utc(2026, 5, 4, 2, 30)),
    ],
)
def test_it_computes_next_fire_in_utc(expression: str, after: object, expected: object) -> None:
    assert Schedule(expression).next_after(after) == expected  # type: ignore[arg-type]


def test_it_uses_vixie_or_when_day_of_month_and_weekday_are_both_restricted() -> None:
    # 2026-02-06 is a Friday, a week before the 13th: either condition fires the job.
    upcoming = Schedule("0 0 13 * 5").upcoming(utc(2026, 2, 1), 3)
    assert upcoming == [utc(2026, 2, 6), utc(2026, 2, 13), utc(2026, 2, 20)]


def test_next_after_is_strictly_after() -> None:
    assert Schedule("0 * * * *").next_after(utc(2026, 1, 1, 5)) == utc(2026, 1, 1, 6)


def test_descriptors_and_spacing_are_normalised() -> None:
    assert normalize("@hourly") == "0 * * * *"
    assert normalize("  */5   *  * * * ") == "*/5 * * * *"


@pytest.mark.parametrize(
    "bad", ["", "   ", "* * * *", "* * * * * *", "61 * * * *", "* 24 * * *", "0 0 30 2 *", "a b c d e", "@often"]
)
def test_it_rejects_bad_expressions(bad: str) -> None:
    for _ in range(2):  # every time: only expressions that parse are remembered
        with pytest.raises(ValidationError, match="invalid cron expression"):
            normalize(bad)


def test_fire_times_between_is_bounded() -> None:
    schedule = Schedule("* * * * *")
    times = list(schedule.fire_times_between(utc(2026, 1, 1), utc(2026, 1, 2), limit=10))
    assert len(times) == 10 and times[0] == utc(2026, 1, 1)


def test_describe_in_words() -> None:
    assert Schedule("30 2 * * 1-5").describe() == "At 02:30 on Monday through Friday"
