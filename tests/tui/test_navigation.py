"""Getting around the sample console: problems open their item, details, history pages, the command palette."""

from __future__ import annotations

from textual.widgets import Input

from tests.tui.support import column, table, until
from tickstem_tui.showcase import SCREEN_SIZE, SampleConsole, settle_app
from tickstem_tui.tui.screens.base import HISTORY_PAGE, EntityScreen
from tickstem_tui.tui.widgets.dialogs import DetailsDialog
from tickstem_tui.tui.widgets.forms import FormScreen, JobForm


async def test_enter_on_a_problem_opens_its_screen_on_that_row() -> None:
    app = SampleConsole()
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await settle_app(pilot)
        problems = table(pilot, "#problems")
        assert [key.split(":")[0] for key in problems.row_keys()] == ["job", "monitor", "heartbeat"]
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.current_mode == "monitors")
        await settle_app(pilot)
        screen = app.screen
        assert isinstance(screen, EntityScreen)
        assert column(screen.main, screen.main.cursor_key or "", "name") == "payments"


async def test_every_screen_is_built_behind_the_first_and_a_first_visit_only_switches() -> None:
    app = SampleConsole()
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await settle_app(pilot)
        await until(pilot, lambda: app.screens_prepared)
        assert app.current_mode == "overview"
        built = {mode: app._screen_stacks[mode][0] for mode in app.MODES}
        assert all(screen.is_mounted for screen in built.values())
        for key, mode in (("2", "jobs"), ("3", "monitors"), ("4", "heartbeats")):
            await pilot.press(key)
            await until(pilot, lambda m=mode: app.current_mode == m)  # type: ignore[misc]
            screen = app.screen
            assert screen is built[mode] and isinstance(screen, EntityScreen)
            assert screen.main.row_count == len(getattr(app.model, mode))


async def test_enter_shows_details_and_history_pages_back_and_forth() -> None:
    app = SampleConsole()
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await settle_app(pilot)
        await app.switch_mode("monitors")
        await settle_app(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsDialog))
        assert ("URL", "https://api.example.com/health") in app.screen.rows  # type: ignore[attr-defined]
        await pilot.press("escape")

        checks = table(pilot, "#history")
        assert checks.row_count == HISTORY_PAGE
        newest = checks.row_keys()[0]
        await pilot.press("right_square_bracket")
        await settle_app(pilot)
        assert checks.row_count == 60 - HISTORY_PAGE, "the sample keeps 60 checks per monitor"
        assert newest not in checks
        await pilot.press("left_square_bracket")
        await settle_app(pilot)
        assert checks.row_keys()[0] == newest


async def test_the_job_form_previews_the_schedule_as_you_type() -> None:
    app = SampleConsole()
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await settle_app(pilot)
        await app.switch_mode("jobs")
        await settle_app(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, JobForm))
        form = app.screen
        assert isinstance(form, JobForm)
        form.query_one("#field-schedule", Input).value = "30 9 * * 1-5"
        await pilot.pause()
        preview = str(form.query_one("#cron-preview").render())
        assert "At 09:30 on Monday through Friday" in preview
        assert "Mon 4 May 2026 09:30 UTC (in 2d 21h 30m)" in preview or "Mon 4 May 2026 09:30 UTC" in preview
        assert preview.count("UTC (in") == 5
        form.query_one("#field-schedule", Input).value = "61 * * * *"
        await pilot.pause()
        assert "✖ invalid cron expression" in str(form.query_one("#cron-preview").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, FormScreen)


async def test_the_command_palette_reaches_screens_and_forms() -> None:
    app = SampleConsole()
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await settle_app(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"New monitor")
        await settle_app(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, FormScreen), what="the monitor form")
        assert app.current_mode == "monitors"
        assert app.screen.title_text == "New monitor"  # type: ignore[attr-defined]
