"""The console driven by keys over a real runtime: real SQLite, real loopback HTTP, the same services as the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, Static

from tests.conftest import API_KEY, RecordingEndpoint, make_settings
from tests.dns_server import LoopbackDNS
from tests.tui.support import SIZE, column, console_for, table, until
from tickstem_tui.domain.errors import NotFound
from tickstem_tui.domain.events import Notice
from tickstem_tui.runtime import Runtime
from tickstem_tui.tui.screens.help import HelpScreen, app_sections, binding_rows
from tickstem_tui.tui.widgets.dialogs import ConfirmDialog
from tickstem_tui.tui.widgets.forms import FormScreen
from tickstem_tui.tui.widgets.virtual_table import VirtualTable, cell_text

OWNER = "acct_owner"


def toasts(messages: list[Message]) -> list[str]:
    """What the app announced, as `title: message` lines, in order."""
    return [f"{m.notification.title}: {m.notification.message}" for m in messages if isinstance(m, Notify)]


async def api_get(runtime: Runtime, path: str, key: str = API_KEY) -> httpx.Response:
    async with httpx.AsyncClient(base_url=runtime.base_url) as client:
        return await client.get(path, headers={"Authorization": f"Bearer {key}"})


async def test_r_runs_the_selected_job_and_its_execution_appears_with_its_status(
    runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    job, _ = await runtime.services.jobs.register(
        OWNER, {"name": "hook", "schedule": "0 0 1 1 *", "endpoint": f"{endpoint.url}/hook", "retries": 0}
    )
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        jobs = table(pilot, "#main")
        history = table(pilot, "#history")
        await until(pilot, lambda: job.id in jobs, what="the job row")
        assert column(jobs, job.id, "last") == "never"

        await pilot.press("r")
        await until(pilot, lambda: history.row_count == 1, what="the execution row")
        await until(pilot, lambda: column(history, history.row_keys()[0], "status") == "success", what="success")

        executions = await runtime.services.jobs.executions(OWNER, job.id, 10, 0)
        assert [e.id for e in executions] == history.row_keys()
        assert column(history, executions[0].id, "trigger") == "manual"
        assert column(history, executions[0].id, "code") == "200"
        assert [call.path for call in endpoint.calls] == ["/hook"]
        await until(pilot, lambda: column(jobs, job.id, "last").startswith("success"), what="last run column")


async def test_p_pauses_and_resumes_and_the_api_reports_it(runtime: Runtime) -> None:
    job, _ = await runtime.services.jobs.register(
        OWNER, {"name": "nightly", "schedule": "0 2 * * *", "endpoint": "http://127.0.0.1:9/never"}
    )
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        jobs = table(pilot, "#main")
        await until(pilot, lambda: job.id in jobs)

        await pilot.press("p")
        await until(pilot, lambda: column(jobs, job.id, "status") == "paused", what="paused row")
        assert column(jobs, job.id, "next") == "paused"
        response = await api_get(runtime, f"/v1/jobs/{job.id}")
        assert response.status_code == 200 and response.json()["status"] == "paused"

        await pilot.press("p")
        await until(pilot, lambda: column(jobs, job.id, "status") == "active", what="active row")
        assert (await api_get(runtime, f"/v1/jobs/{job.id}")).json()["status"] == "active"


async def test_a_monitor_is_created_through_the_form_after_its_errors_are_shown(
    runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "n")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        form = app.screen
        await pilot.press(*"web", "tab", *"not a url")
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error", Static)
        await until(pilot, lambda: "url must be an http" in str(error.render()), what="the URL error")
        assert app.screen is form
        assert await runtime.services.monitors.list_monitors(OWNER) == []

        url_field = form.query_one("#field-url", Input)
        url_field.focus()
        await pilot.press("ctrl+u", *f"{endpoint.url}/health")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, FormScreen), what="the form to close")

        [monitor] = await runtime.services.monitors.list_monitors(OWNER)
        assert (monitor.name, monitor.spec.url, monitor.spec.interval_secs) == ("web", f"{endpoint.url}/health", 60)
        monitors = table(pilot, "#main")
        await until(pilot, lambda: monitor.id in monitors, what="the monitor row")
        # The poller checks a new monitor at once; the check lands in the row and the history pane.
        await until(pilot, lambda: column(monitors, monitor.id, "response").endswith("ms"), what="a response time")
        await until(pilot, lambda: table(pilot, "#history").row_count >= 1, what="the check history")


async def test_filter_narrows_the_table_and_escape_clears_it(runtime: Runtime) -> None:
    for name in ("alpha-backup", "beta-report", "gamma-backup"):
        await runtime.services.jobs.register(
            OWNER, {"name": name, "schedule": "0 3 * * *", "endpoint": "http://127.0.0.1:9/x"}
        )
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        jobs = table(pilot, "#main")
        await until(pilot, lambda: jobs.row_count == 3)
        await pilot.press("slash", *"BACKUP")
        await until(pilot, lambda: jobs.row_count == 2, what="filtered rows")
        assert [column(jobs, key, "name") for key in jobs.view] == ["alpha-backup", "gamma-backup"]
        await pilot.press("enter")
        assert jobs.has_focus
        await pilot.press("down")
        assert column(jobs, jobs.cursor_key or "", "name") == "gamma-backup"
        await pilot.press("escape")
        assert jobs.row_count == 3
        assert column(jobs, jobs.cursor_key or "", "name") == "gamma-backup", "the cursor stays on its row"


async def test_delete_asks_first_and_only_yes_deletes(runtime: Runtime) -> None:
    job, _ = await runtime.services.jobs.register(
        OWNER, {"name": "doomed", "schedule": "0 3 * * *", "endpoint": "http://127.0.0.1:9/x"}
    )
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        jobs = table(pilot, "#main")
        await until(pilot, lambda: job.id in jobs)

        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "doomed" in app.screen.question  # type: ignore[attr-defined]
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert (await runtime.services.jobs.get(OWNER, job.id)).name == "doomed"

        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: job.id not in jobs, what="the row to go")
        with pytest.raises(NotFound):
            await runtime.services.jobs.get(OWNER, job.id)
        assert (await api_get(runtime, f"/v1/jobs/{job.id}")).status_code == 404


async def test_help_lists_every_binding(runtime: Runtime) -> None:
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_table = app.screen.query_one("#help-table", VirtualTable)
        shown = {tuple(cell_text(cell) for cell in help_table.get_row(key)) for key in help_table.row_keys()}
        from tickstem_tui.tui.app import SCREEN_CLASSES

        sections = app_sections(type(app), [(name.title(), cls) for name, cls in SCREEN_CLASSES.items()])
        expected = set(binding_rows(sections))
        assert expected <= shown
        keys = {row[1] for row in shown}
        assert {"r", "p", "n", "e", "d", "enter", "/", "?", "q", "1", "2", "3", "4", "5", "c", "k"} <= keys
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_a_failing_job_toasts_once_while_failing_and_again_on_recovery(
    runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    job, _ = await runtime.services.jobs.register(
        OWNER, {"name": "flaky", "schedule": "0 0 1 1 *", "endpoint": endpoint.url, "retries": 0}
    )
    messages: list[Message] = []
    app = console_for(runtime)
    async with app.run_test(size=SIZE, message_hook=messages.append, notifications=True) as pilot:
        await pilot.press("2")
        jobs = table(pilot, "#main")
        await until(pilot, lambda: job.id in jobs)
        endpoint.status = 500

        async def run_and_wait(count: int) -> None:
            await pilot.press("r")
            await endpoint.wait_for_calls(count)
            await until(pilot, lambda: table(pilot, "#history").row_count == count)
            await until(
                pilot,
                lambda: column(table(pilot, "#history"), table(pilot, "#history").row_keys()[0], "status") != "running",
            )

        await run_and_wait(1)
        await run_and_wait(2)
        await until(pilot, lambda: column(jobs, job.id, "status") == "failing", what="failing")
        await until(pilot, lambda: any("is failing" in line for line in toasts(messages)), what="failing toast")
        await run_and_wait(3)
        endpoint.status = 200
        await run_and_wait(4)
        await until(pilot, lambda: any("recovered" in line for line in toasts(messages)), what="recovery toast")
        lines = toasts(messages)
        assert sum("Job “flaky” is failing" in line for line in lines) == 1, lines
        assert sum("Job “flaky” recovered" in line for line in lines) == 1, lines
        assert column(jobs, job.id, "status") == "active"


async def test_notices_become_toasts(runtime: Runtime) -> None:
    messages: list[Message] = []
    app = console_for(runtime)
    async with app.run_test(size=SIZE, message_hook=messages.append, notifications=True) as pilot:
        await pilot.pause()
        runtime.bus.publish(Notice("Desktop notifications are unavailable (no session bus)", "warning"))
        await until(pilot, lambda: any("no session bus" in line for line in toasts(messages)))


async def test_changes_made_through_the_api_show_up_live(runtime: Runtime) -> None:
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        jobs = table(pilot, "#main")
        await until(pilot, lambda: app.model.loaded)
        async with httpx.AsyncClient(base_url=runtime.base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as c:
            created = (
                await c.post(
                    "/v1/jobs", json={"name": "from-api", "schedule": "*/5 * * * *", "endpoint": "http://127.0.0.1:9/"}
                )
            ).json()
            await until(pilot, lambda: created["id"] in jobs, what="the job created over HTTP")
            assert column(jobs, created["id"], "schedule") == "Every fifth minute of every hour"
            assert (await c.delete(f"/v1/jobs/{created['id']}")).status_code in (200, 204)
            await until(pilot, lambda: created["id"] not in jobs, what="the job deleted over HTTP")


async def test_api_key_is_hidden_until_asked_and_a_new_one_can_be_minted(runtime: Runtime) -> None:
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        server = app.screen.query_one("#server", Static)
        await until(pilot, lambda: "Database" in str(server.render()))
        assert API_KEY not in str(server.render())
        await pilot.press("k")
        assert API_KEY in str(server.render())
        await pilot.press("k")
        assert API_KEY not in str(server.render())

        before = await runtime.services.accounts.list_keys()
        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: app.api_key != API_KEY, what="the new key")
        new_key = app.api_key
        assert new_key is not None and new_key in str(server.render())
        assert len(await runtime.services.accounts.list_keys()) == len(before) + 1
        assert (await api_get(runtime, "/v1/jobs", key=new_key)).status_code == 200


async def test_heartbeat_created_in_the_form_takes_pings_from_the_key_and_over_http(runtime: Runtime) -> None:
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "n")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        app.screen.query_one("#field-name", Input).focus()
        await pilot.press(*"etl")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, FormScreen))
        [heartbeat] = await runtime.services.heartbeats.list_heartbeats(OWNER)
        beats = table(pilot, "#main")
        await until(pilot, lambda: heartbeat.id in beats)
        assert column(beats, heartbeat.id, "last") == "never"
        assert column(beats, heartbeat.id, "deadline") in ("in 1h", "in 59m 59s", "in 59m 58s")
        url_panel = app.screen.query_one("#ping-url", Static)
        await until(pilot, lambda: heartbeat.token in str(url_panel.render()))

        await pilot.press("r")
        pings = table(pilot, "#history")
        await until(pilot, lambda: pings.row_count == 1, what="the console's ping")
        assert column(beats, heartbeat.id, "last") in ("just now", "1s ago")
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{runtime.base_url}/v1/heartbeats/{heartbeat.token}/ping")
        assert answer.json() == {"status": "ok"}
        await until(pilot, lambda: pings.row_count == 2, what="the HTTP ping")


@pytest.fixture
async def dns_runtime(tmp_path: Path, dns_server: LoopbackDNS) -> Runtime:  # type: ignore[misc]
    settings = make_settings(tmp_path, dns_server=dns_server.address)
    async with Runtime(settings) as rt:
        yield rt


async def test_verify_shows_the_four_checks_and_keeps_the_history(dns_runtime: Runtime) -> None:
    app = console_for(dns_runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await until(pilot, lambda: app.screen.query_one("#address", Input).has_focus)
        await pilot.press(*"support@goodmail.com", "enter")
        result = app.screen.query_one("#result", Static)
        await until(pilot, lambda: "Verdict" in str(result.render()), what="the verdict")
        text = str(result.render())
        for words in ("Syntax", "well-formed", "goodmail.com accepts mail", "not a disposable domain", "role address"):
            assert words in text
        assert "valid" in text and "not valid" not in text
        history = table(pilot, "#history")
        await until(pilot, lambda: history.row_count == 1)
        assert column(history, history.row_keys()[0], "email") == "support@goodmail.com"
        assert column(history, history.row_keys()[0], "role") == "yes"


async def test_a_cronsafe_accounts_monitor_shows_up_with_its_slug_url_and_pings(runtime: Runtime) -> None:
    app = console_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        beats = table(pilot, "#main")
        await until(pilot, lambda: app.model.loaded)
        async with httpx.AsyncClient(base_url=runtime.base_url) as client:
            registered = await client.post(
                "/api/auth/register", json={"email": "ops@example.com", "password": "correct horse battery"}
            )
            token = registered.json()["token"]
            created = await client.post(
                "/api/monitors",
                json={"name": "backup", "expected_interval_minutes": 60},
                headers={"Authorization": f"Bearer {token}"},
            )
            monitor = created.json()
            await until(pilot, lambda: monitor["id"] in beats, what="the CronSafe monitor")
            assert column(beats, monitor["id"], "kind") == "CronSafe"
            assert column(beats, monitor["id"], "status") == "pending"
            beats.move_cursor_to_key(monitor["id"])
            url_panel = app.screen.query_one("#ping-url", Static)
            await until(pilot, lambda: f"/ping/{monitor['slug']}" in str(url_panel.render()), what="the slug URL")

            assert (await client.get(f"/ping/{monitor['slug']}")).status_code == 200
            await until(pilot, lambda: column(beats, monitor["id"], "status") == "up", what="up after the ping")
            await until(pilot, lambda: table(pilot, "#history").row_count == 1, what="the ping in the history")
