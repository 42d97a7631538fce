"""The heartbeat state machine in fake time: misses, grace, pause, laptop sleep and restarts, on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tickstem_tui.clock import FakeClock
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import Event, Flipped, WatchdogGap
from tickstem_tui.domain.heartbeats import Heartbeat
from tickstem_tui.runtime import Runtime

OWNER = "owner"


async def advance(rt: Runtime, clock: FakeClock, seconds: float) -> None:
    """Move fake time forward, letting the watchdog finish its (real, threaded) database work at each wake-up."""
    target = clock.now() + timedelta(seconds=seconds)
    while (wake := clock.next_wakeup) is not None and wake <= target:
        await clock.set(wake)
        await rt.watchdog.wait_idle()
    await clock.set(target)
    await rt.watchdog.wait_idle()


async def create(rt: Runtime, name: str, interval: int, grace: int) -> Heartbeat:
    hb = await rt.services.heartbeats.create(
        rt.services.accounts.owner_id, {"name": name, "interval_secs": interval, "grace_secs": grace}
    )
    await rt.watchdog.wait_idle()
    return hb


async def get(rt: Runtime, hb: Heartbeat) -> Heartbeat:
    return await rt.services.heartbeats.get(rt.services.accounts.owner_id, hb.id)


async def flips(rt: Runtime, hb: Heartbeat) -> list[tuple[str, str]]:
    rows = await rt.db.fetch_all("SELECT old_status, new_status FROM flips WHERE subject_id = ? ORDER BY id", (hb.id,))
    return [(row[0], row[1]) for row in rows]


@pytest.fixture
async def rt(fake_runtime: Runtime) -> AsyncIterator[Runtime]:
    await fake_runtime.watchdog.wait_idle()
    yield fake_runtime


@pytest.fixture
def events(rt: Runtime) -> list[Event]:
    seen: list[Event] = []
    rt.bus.subscribe(seen.append)
    return seen


def at(start: datetime, seconds: int) -> datetime:
    return start + timedelta(seconds=seconds)


async def test_two_misses_fail_then_a_ping_recovers(rt: Runtime, fake_clock: FakeClock, events: list[Event]) -> None:
    t0 = fake_clock.now()
    hb = await create(rt, "backup", interval=60, grace=10)
    assert (hb.next_expected_at, hb.alert_after) == (at(t0, 60), at(t0, 70))
    # The watchdog sleeps until the stored threshold; it does not poll.
    assert rt.watchdog.next_wakeup == at(t0, 70)

    await advance(rt, fake_clock, 69)
    assert (await get(rt, hb)).consecutive_misses == 0
    await advance(rt, fake_clock, 1)
    one = await get(rt, hb)
    assert (one.status, one.consecutive_misses, one.next_expected_at) == ("active", 1, at(t0, 120))
    assert await flips(rt, hb) == []

    await advance(rt, fake_clock, 60)
    two = await get(rt, hb)
    assert (two.status, two.consecutive_misses, two.next_expected_at) == ("failing", 2, at(t0, 180))
    assert await flips(rt, hb) == [("active", "failing")]
    [flip] = [e for e in events if isinstance(e, Flipped)]
    assert flip.subject_kind == "heartbeat" and flip.at == at(t0, 130) and "2 consecutive missed pings" in flip.reason

    await advance(rt, fake_clock, 60)  # each further interval is another miss, but one alert per incident
    assert (await get(rt, hb)).consecutive_misses == 3
    assert await flips(rt, hb) == [("active", "failing")]

    await advance(rt, fake_clock, 5)
    result = await rt.services.heartbeats.ping(hb.token)
    assert result.status == "ok"
    back = await get(rt, hb)
    assert (back.status, back.consecutive_misses, back.last_ping_at) == ("active", 0, at(t0, 195))
    assert back.next_expected_at == at(t0, 255)
    assert await flips(rt, hb) == [("active", "failing"), ("failing", "active")]


async def test_grace_delays_the_miss(rt: Runtime, fake_clock: FakeClock) -> None:
    t0 = fake_clock.now()
    hb = await create(rt, "graceful", interval=60, grace=30)
    await advance(rt, fake_clock, 89)
    assert (await get(rt, hb)).consecutive_misses == 0
    await rt.services.heartbeats.ping(hb.token)  # late but within grace: no miss at all
    await advance(rt, fake_clock, 200)
    later = await get(rt, hb)
    # Pinged at t0+89: deadline t0+149, threshold t0+179 (miss 1), then t0+239 (miss 2, failing).
    assert (later.consecutive_misses, later.status, later.next_expected_at) == (2, "failing", at(t0, 269))


async def test_explicit_zero_grace_misses_at_the_deadline(rt: Runtime, fake_clock: FakeClock) -> None:
    hb = await create(rt, "strict", interval=60, grace=0)
    assert hb.spec.grace_secs == 0 and hb.alert_after == hb.next_expected_at
    await advance(rt, fake_clock, 59)
    assert (await get(rt, hb)).consecutive_misses == 0
    await advance(rt, fake_clock, 1)
    assert (await get(rt, hb)).consecutive_misses == 1


async def test_pause_in_the_middle_of_a_miss_never_alerts(rt: Runtime, fake_clock: FakeClock) -> None:
    owner = rt.services.accounts.owner_id
    hb = await create(rt, "maintenance", interval=60, grace=0)
    await advance(rt, fake_clock, 60)
    assert (await get(rt, hb)).consecutive_misses == 1

    paused = await rt.services.heartbeats.pause(owner, hb.id)
    assert (paused.status, paused.next_expected_at, paused.alert_after) == ("paused", None, None)
    await advance(rt, fake_clock, 3600)
    still = await get(rt, hb)
    assert (still.status, still.consecutive_misses) == ("paused", 1)
    assert await flips(rt, hb) == []

    result = await rt.services.heartbeats.ping(hb.token)
    assert result.status == "paused" and (await get(rt, hb)).last_ping_at is None  # changed nothing...
    [ping] = await rt.services.heartbeats.pings(owner, hb.id, limit=10)
    assert ping.paused  # ...but is in the history

    resumed_at = fake_clock.now()
    resumed = await rt.services.heartbeats.resume(owner, hb.id)
    assert (resumed.status, resumed.consecutive_misses) == ("active", 0)
    assert resumed.next_expected_at == at(resumed_at, 60)
    await advance(rt, fake_clock, 119)
    assert (await get(rt, hb)).consecutive_misses == 1 and await flips(rt, hb) == []


async def test_resume_clears_failing_and_patch_status_does_too(rt: Runtime, fake_clock: FakeClock) -> None:
    owner = rt.services.accounts.owner_id
    hb = await create(rt, "flaky", interval=60, grace=0)
    await advance(rt, fake_clock, 120)
    assert (await get(rt, hb)).status == "failing"
    active = await rt.services.heartbeats.update(owner, hb.id, {"status": "active"})
    assert (active.status, active.consecutive_misses, active.next_expected_at) == (
        "active",
        0,
        at(fake_clock.now(), 60),
    )
    # Setting active on a healthy heartbeat keeps its window.
    again = await rt.services.heartbeats.update(owner, hb.id, {"status": "active"})
    assert again.next_expected_at == active.next_expected_at


async def test_an_earlier_deadline_wakes_the_sleeping_watchdog(rt: Runtime, fake_clock: FakeClock) -> None:
    t0 = fake_clock.now()
    slow = await create(rt, "daily", interval=86400, grace=0)
    assert rt.watchdog.next_wakeup == slow.alert_after
    # Shortening an interval moves the deadline earlier (same window start) and wakes the watchdog.
    owner = rt.services.accounts.owner_id
    await rt.services.heartbeats.update(owner, slow.id, {"interval_secs": 120})
    await rt.watchdog.wait_idle()
    assert rt.watchdog.next_wakeup == at(t0, 120)
    fast = await create(rt, "minutely", interval=60, grace=0)
    assert rt.watchdog.next_wakeup == at(t0, 60) == fast.alert_after


async def test_wake_after_suspend_rearms_instead_of_a_burst(
    rt: Runtime, fake_clock: FakeClock, events: list[Event]
) -> None:
    t0 = fake_clock.now()
    minutely = [await create(rt, f"m{n}", interval=60, grace=0) for n in range(3)]
    graceful = await create(rt, "grace", interval=7200, grace=7200)  # deadline passes asleep, threshold after
    daily = await create(rt, "daily", interval=86400, grace=300)  # not due during the nap

    await fake_clock.jump(3 * 3600)  # the lid closes for three hours
    await rt.watchdog.wait_idle()
    woke = fake_clock.now()
    assert woke == at(t0, 3 * 3600)

    for hb in [*minutely, graceful]:
        after = await get(rt, hb)
        assert (after.status, after.consecutive_misses) == ("active", 0)
        assert after.next_expected_at == woke + timedelta(seconds=hb.spec.interval_secs)
    assert (await get(rt, daily)).next_expected_at == daily.next_expected_at
    assert await rt.db.fetch_value("SELECT COUNT(*) FROM flips") == 0

    [gap] = await rt.services.heartbeats.gaps()
    # From the watchdog's last look at the clock to the wake-up.
    assert (gap.reason, gap.started_at, gap.ended_at, gap.rearmed) == ("suspend", t0, woke, 4)
    assert [e for e in events if isinstance(e, WatchdogGap)] == [WatchdogGap("suspend", t0, woke, 4)]

    # Afterwards the rules apply as usual.
    await advance(rt, fake_clock, 60)
    assert [(await get(rt, hb)).consecutive_misses for hb in minutely] == [1, 1, 1]


async def test_a_short_delay_is_not_a_suspend(rt: Runtime, fake_clock: FakeClock) -> None:
    hb = await create(rt, "m", interval=60, grace=0)
    await fake_clock.jump(65)  # woke 5 s late: under suspend_detect_secs, an ordinary (late) look
    await rt.watchdog.wait_idle()
    assert (await get(rt, hb)).consecutive_misses == 1
    assert await rt.services.heartbeats.gaps() == []


async def test_state_and_deadlines_survive_a_restart_in_the_middle_of_a_miss(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    settings: Settings = make_settings(tmp_path)
    t0 = fake_clock.now()
    async with Runtime(settings, clock=fake_clock) as first:
        await first.watchdog.wait_idle()
        hb = await create(first, "restart", interval=60, grace=10)
        await advance(first, fake_clock, 70)
        assert (await get(first, hb)).consecutive_misses == 1

    await fake_clock.set(at(t0, 100))  # stopped for 30 s, no threshold passed meanwhile
    async with Runtime(settings, clock=fake_clock) as second:
        await second.watchdog.wait_idle()
        survived = await get(second, hb)
        assert (survived.consecutive_misses, survived.next_expected_at, survived.alert_after) == (
            1,
            at(t0, 120),
            at(t0, 130),
        )
        assert second.watchdog.next_wakeup == at(t0, 130)
        await advance(second, fake_clock, 30)
        failing = await get(second, hb)
        assert (failing.status, failing.consecutive_misses) == ("failing", 2)
        assert await flips(second, hb) == [("active", "failing")]

    # Stopped across several thresholds: re-armed from start-up (the pings had nowhere to go), gap recorded.
    await fake_clock.set(at(t0, 2000))
    async with Runtime(settings, clock=fake_clock) as third:
        await third.watchdog.wait_idle()
        after = await get(third, hb)
        assert (after.status, after.consecutive_misses, after.next_expected_at) == ("failing", 2, at(t0, 2060))
        [gap] = await third.services.heartbeats.gaps()
        assert (gap.reason, gap.started_at, gap.ended_at, gap.rearmed) == ("stopped", at(t0, 190), at(t0, 2000), 1)
        await third.services.heartbeats.ping(hb.token)
        assert await flips(third, hb) == [("active", "failing"), ("failing", "active")]
