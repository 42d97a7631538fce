"""The keyed due-time plan shared by the scheduler and the poller."""

from __future__ import annotations

from tickstem_tui.clock import utc
from tickstem_tui.services.plan import DuePlan


def test_it_hands_out_due_plans_earliest_first_and_skips_superseded_ones() -> None:
    plan: DuePlan[str] = DuePlan()
    assert plan.earliest() is None and plan.pop_due(utc(2026, 1, 1)) == []
    assert plan.put("a", utc(2026, 1, 1, 10), "A1") is True
    assert plan.put("b", utc(2026, 1, 1, 9), "B") is True
    assert plan.put("c", utc(2026, 1, 1, 11), "C") is False
    old = plan.token("a")
    assert plan.put("a", utc(2026, 1, 1, 12), "A2") is False  # re-planned later: its old entry is stale
    assert plan.token("a") != old
    plan.discard("c")
    assert plan.earliest() == utc(2026, 1, 1, 9) and len(plan) == 2

    taken = plan.pop_due(utc(2026, 1, 1, 12))
    assert [(key, due, value) for key, due, value, _ in taken] == [
        ("b", utc(2026, 1, 1, 9), "B"),
        ("a", utc(2026, 1, 1, 12), "A2"),
    ]
    # Taken plans stay current (same token) until planned again, so callers can see whether they changed.
    assert plan.token("a") == taken[1][3] and plan.get("a") == (utc(2026, 1, 1, 12), "A2")
    assert plan.earliest() is None


def test_a_burst_comes_out_like_one_by_one_earliest_first_without_stale_or_future_plans() -> None:
    plan: DuePlan[int] = DuePlan()
    for n in range(1000):
        plan.put(f"k{n}", utc(2026, 1, 1, 10, n % 60), n)
    for n in range(0, 1000, 7):  # superseded: re-planned later or dropped
        plan.put(f"k{n}", utc(2026, 1, 1, 11, n % 60), -n)
    for n in range(3, 1000, 11):
        plan.discard(f"k{n}")
    now = utc(2026, 1, 1, 10, 30)
    taken = plan.pop_due(now)  # far more than BULK_AFTER
    expected = sorted((utc(2026, 1, 1, 10, n % 60), n) for n in range(1000) if n % 7 and (n - 3) % 11 and n % 60 <= 30)
    assert [(due, value) for _, due, value, _ in taken] == expected
    assert [key for key, _, _, _ in taken] == [f"k{n}" for _, n in expected]
    assert plan.earliest() == utc(2026, 1, 1, 10, 31)
    later = plan.pop_due(utc(2026, 1, 1, 12))
    assert len(taken) + len(later) == len(plan) and plan.earliest() is None
