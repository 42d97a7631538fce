"""The bus-to-Textual bridge: bursts fold per entity into one bounded batch, the next waits for the app, toasts once."""

from __future__ import annotations

from datetime import UTC, datetime

from textual import on
from textual.app import App

from tickstem_tui.domain.events import (
    CheckRecorded,
    ExecutionFinished,
    ExecutionStarted,
    Flipped,
    JobChanged,
    Notice,
    PingReceived,
)
from tickstem_tui.services.bus import EventBus
from tickstem_tui.tui.bridge import Bridge, Changes, ConsoleChanges

OWNER = "acct_owner"
AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


class Sink(App[None]):
    """Collects batches; answers `done()` only when the test says so."""

    def __init__(self) -> None:
        super().__init__()
        self.bus = EventBus()
        self.bridge = Bridge(self, self.bus, OWNER, now=lambda: AT, interval=0.01, max_entities=100)
        self.batches: list[Changes] = []
        self.auto_done = True

    def on_mount(self) -> None:
        self.bridge.start()

    @on(ConsoleChanges)
    def _got(self, message: ConsoleChanges) -> None:
        self.batches.append(message.changes)
        if self.auto_done:
            self.bridge.done()


def flip(subject: str, old: str, new: str) -> Flipped:
    return Flipped(OWNER, "monitor", subject, "api", old, new, "HTTP 502", AT)


async def test_a_burst_folds_into_one_batch_with_the_latest_state_per_entity() -> None:
    app = Sink()
    async with app.run_test() as pilot:
        for n in range(1000):
            job = f"job_{n % 10}"
            app.bus.publish(ExecutionStarted(OWNER, job, f"exe_{n}"))
            app.bus.publish(ExecutionFinished(OWNER, job, f"exe_{n}", "success", 200, n))
            app.bus.publish(CheckRecorded(OWNER, "mon_1", f"chk_{n}", "up", 200, n, "active", AT))
            app.bus.publish(PingReceived(OWNER, "hb_1", "success", "active", AT))
        await pilot.pause(0.05)
        assert len(app.batches) == 1
        batch = app.batches[0]
        assert sorted(batch.runs) == [f"job_{n}" for n in range(10)]
        assert batch.jobs == {}, "runs carry their row's cells; the jobs themselves are not re-read"
        assert batch.runs["job_9"].execution_id == "exe_999" and batch.runs["job_9"].duration_ms == 999
        assert batch.checks["mon_1"].check_id == "chk_999"
        assert batch.checks["mon_1"].monitor_status == "active"
        assert batch.pings == {"hb_1"} and set(batch.heartbeats) == {"hb_1"}


async def test_the_next_batch_waits_for_the_app_and_memory_stays_bounded() -> None:
    app = Sink()
    app.auto_done = False
    async with app.run_test() as pilot:
        app.bus.publish(JobChanged(OWNER, "job_a"))
        await pilot.pause(0.05)
        assert len(app.batches) == 1
        # The app is busy: everything now folds into the pending batch, and past the cap a kind becomes "reload".
        for n in range(500):
            app.bus.publish(JobChanged(OWNER, f"job_{n}"))
        app.bus.publish(JobChanged(OWNER, "job_gone", deleted=True))
        await pilot.pause(0.05)
        assert len(app.batches) == 1
        app.bridge.done()
        await pilot.pause(0.05)
        assert len(app.batches) == 2
        assert app.batches[1].reload == {"jobs"}
        assert len(app.batches[1].jobs) <= 100


async def test_deleted_wins_and_other_accounts_are_ignored() -> None:
    app = Sink()
    async with app.run_test() as pilot:
        app.bus.publish(JobChanged(OWNER, "job_a", deleted=True))
        app.bus.publish(ExecutionFinished(OWNER, "job_a", "exe", "success", 200, 5))
        app.bus.publish(JobChanged("acct_other", "job_b"))
        await pilot.pause(0.05)
        [batch] = app.batches
        assert batch.jobs == {"job_a": True}


async def test_failing_toasts_once_until_it_recovers() -> None:
    app = Sink()
    async with app.run_test() as pilot:
        app.bus.publish(flip("mon_1", "active", "failing"))
        app.bus.publish(flip("mon_1", "active", "failing"))  # replayed: still failing, no second toast
        app.bus.publish(flip("mon_1", "paused", "active"))  # quiet change: no toast
        app.bus.publish(flip("mon_1", "failing", "active"))
        app.bus.publish(Notice("no desktop session", "warning"))
        await pilot.pause(0.05)
        toasts = [(t.title, t.severity) for batch in app.batches for t in batch.toasts]
        assert toasts == [
            ("Monitor “api” is failing", "error"),
            ("Monitor “api” recovered", "information"),
            ("", "warning"),
        ]
        assert [item.tone for item in app.bridge.feed][:2] == ["warn", "ok"]
