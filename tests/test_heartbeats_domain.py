"""Pure heartbeat rules for both faces: validation, deadlines, misses, start/fail pings, status words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tickstem_tui.clock import utc
from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.heartbeats import (
    Face,
    Heartbeat,
    HeartbeatSpec,
    HeartbeatState,
    PingKind,
    flipped,
    new_heartbeat,
    on_ping,
    on_threshold_passed,
    parse_create,
    parse_update,
    paused,
    resumed,
    with_spec,
)

T0 = utc(2026, 5, 1, 12)


def secs(n: int) -> timedelta:
    return timedelta(seconds=n)


def make(face: Face = Face.TICKSTEM, interval: int = 60, grace: int = 0) -> Heartbeat:
    return new_heartbeat(
        id="hb_x",
        account_id="acct",
        face=face,
        spec=HeartbeatSpec("job", interval, grace),
        token="a" * 64,
        slug="aBcDeFgHiJkL" if face is Face.CRONSAFE else None,
        now=T0,
    )


def test_create_defaults_apply_only_when_absent() -> None:
    assert parse_create({"name": "n"}) == HeartbeatSpec("n", 3600, 300)
    assert parse_create({"name": "n", "interval_secs": None, "grace_secs": None}) == HeartbeatSpec("n", 3600, 300)
    assert parse_create({"name": "n", "grace_secs": 0}).grace_secs == 0
    assert parse_create({"name": " n ", "interval_secs": 60.0}).interval_secs == 60
    for bad in ({"name": "n", "interval_secs": True}, {"name": "n", "grace_secs": "5"}, "nope", {"name": 5}):
        with pytest.raises(ValidationError):
            parse_create(bad)


def test_update_is_partial() -> None:
    base = HeartbeatSpec("n", 600, 30)
    assert parse_update({}, base) == (base, None)
    assert parse_update({"grace_secs": 0, "status": "paused"}, base) == (
        HeartbeatSpec("n", 600, 0),
        HeartbeatState.PAUSED,
    )
    assert parse_update({"status": "active"}, base)[1] is HeartbeatState.UP


def test_a_late_look_counts_every_interval_it_covers() -> None:
    hb = make(interval=60, grace=10)
    after = on_threshold_passed(hb, T0 + secs(70 + 60 * 3), failing_after=2)
    # Thresholds at +70, +130, +190, +250 all passed: four misses, one flip.
    assert after.heartbeat.consecutive_misses == 4 and after.heartbeat.state is HeartbeatState.DOWN
    assert after.heartbeat.next_expected_at == T0 + secs(300) and after.flip == ("active", "failing")
    assert on_threshold_passed(hb, T0 + secs(69), failing_after=2).heartbeat is hb


def test_failing_after_is_configurable() -> None:
    hb = make(interval=60)
    assert on_threshold_passed(hb, T0 + secs(60), failing_after=1).flip == ("active", "failing")
    three = on_threshold_passed(hb, T0 + secs(120), failing_after=3)
    assert three.flip is None and three.heartbeat.consecutive_misses == 2


def test_new_timing_keeps_the_window_start() -> None:
    hb = on_threshold_passed(make(interval=60), T0 + secs(60), failing_after=2).heartbeat  # one miss
    assert hb.next_expected_at == T0 + secs(120)
    longer = with_spec(hb, HeartbeatSpec("job", 300, 20), T0 + secs(61))
    # Window started at +60 (creation rolled forward by the miss): deadline +360, threshold +380.
    assert (longer.next_expected_at, longer.alert_after) == (T0 + secs(360), T0 + secs(380))
    assert with_spec(paused(hb, T0), HeartbeatSpec("job", 300, 20), T0).next_expected_at is None


def test_cronsafe_monitor_is_pending_and_unwatched_until_its_first_ping() -> None:
    hb = make(Face.CRONSAFE, interval=300, grace=60)
    assert (hb.status, hb.next_expected_at, hb.alert_after) == ("pending", None, None)
    assert resumed(paused(hb, T0), T0).alert_after is None
    up = on_ping(hb, PingKind.SUCCESS, T0 + secs(5)).heartbeat
    assert (up.status, up.next_expected_at, up.alert_after) == ("up", T0 + secs(305), T0 + secs(365))
    # CronSafe alerts on the first missed deadline (+ grace).
    down = on_threshold_passed(up, T0 + secs(365), failing_after=2)
    assert down.flip == ("up", "down") and down.heartbeat.consecutive_misses == 1


def test_start_then_success_records_the_duration() -> None:
    hb = on_ping(make(Face.CRONSAFE), PingKind.SUCCESS, T0).heartbeat
    started = on_ping(hb, PingKind.START, T0 + secs(100))
    assert started.heartbeat.last_start_at == T0 + secs(100) and started.heartbeat.alert_after == hb.alert_after
    done = on_ping(started.heartbeat, PingKind.SUCCESS, T0 + secs(112))
    assert done.duration_ms == 12_000 and done.heartbeat.last_duration_ms == 12_000
    again = on_ping(done.heartbeat, PingKind.SUCCESS, T0 + secs(150))
    assert again.duration_ms is None and again.heartbeat.last_duration_ms == 12_000


def test_a_fail_ping_goes_down_at_once_once_per_incident() -> None:
    hb = on_ping(make(Face.CRONSAFE), PingKind.SUCCESS, T0).heartbeat
    failed = on_ping(hb, PingKind.FAIL, T0 + secs(10), output="disk full €")
    assert failed.flip == ("up", "down") and failed.heartbeat.last_failure_output == "disk full €"
    assert "disk full" in failed.reason
    flip = flipped(hb, failed)
    assert flip is not None and (flip.subject_kind, flip.old_status, flip.new_status) == ("heartbeat", "up", "down")
    again = on_ping(failed.heartbeat, PingKind.FAIL, T0 + secs(20), output="x" * 20_000)
    assert again.flip is None and again.heartbeat.last_failure_output == "x" * 10_000
    recovered = on_ping(again.heartbeat, PingKind.SUCCESS, T0 + secs(30))
    assert recovered.flip == ("down", "up")


def test_paused_heartbeats_ignore_pings_and_thresholds() -> None:
    hb = paused(make(), T0)
    assert on_ping(hb, PingKind.SUCCESS, T0).heartbeat is hb
    assert on_threshold_passed(hb, T0 + secs(10**6), failing_after=2).heartbeat is hb
    assert hb.status == "paused" and make(Face.CRONSAFE).status == "pending"
