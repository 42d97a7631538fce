"""Every screen of the console, as SVG snapshots of the sample data on a fake clock (stable byte for byte)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from textual.pilot import Pilot

from tickstem_tui.showcase import SCREEN_SIZE, SampleConsole, settle_app

SnapCompare = Callable[..., bool]


def showing(mode: str, keys: Sequence[str] = ()) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Open `mode`, press `keys`, and wait until the data and history panes have loaded."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settle_app(pilot)
        await pilot.app.switch_mode(mode)
        await settle_app(pilot)
        for key in keys:
            await pilot.press(key)
            await settle_app(pilot)

    return run_before


def test_overview(snap_compare: SnapCompare) -> None:
    """Problems first, counts, server and masked key, recent events."""
    assert snap_compare(SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("overview"))


def test_jobs(snap_compare: SnapCompare) -> None:
    """Jobs with schedules in words; the failing job's executions below."""
    assert snap_compare(SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("jobs"))


def test_monitors(snap_compare: SnapCompare) -> None:
    """Monitors with uptime and certificates; the failing one selected, with its sparkline and checks."""
    assert snap_compare(SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("monitors", ["down", "down"]))


def test_heartbeats(snap_compare: SnapCompare) -> None:
    """Heartbeats of both faces, deadlines counting down, ping URLs and pings."""
    assert snap_compare(SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("heartbeats"))


def test_verify(snap_compare: SnapCompare) -> None:
    """The address box, the four checks of a history entry, and the history."""
    assert snap_compare(
        SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("verify", ["escape", "down", "enter"])
    )


def test_job_form(snap_compare: SnapCompare) -> None:
    """Editing a job: the cron preview lists the next five runs in words."""
    assert snap_compare(SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("jobs", ["e"]))


def test_help(snap_compare: SnapCompare) -> None:
    """Every key binding."""
    assert snap_compare(SampleConsole(), terminal_size=SCREEN_SIZE, run_before=showing("jobs", ["question_mark"]))
