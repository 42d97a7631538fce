"""Overview: problems first, then counts, the server URL and API key (on demand), and recent events."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from tickstem_tui.domain.heartbeats import HeartbeatState
from tickstem_tui.domain.jobs import JobStatus
from tickstem_tui.domain.monitors import MonitorStatus
from tickstem_tui.tui import format as fmt
from tickstem_tui.tui.model import Delta
from tickstem_tui.tui.screens.base import ConsoleScreen
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, Styled, VirtualTable

MASK = "•" * 24


class OverviewScreen(ConsoleScreen):
    MODE = "overview"
    FILTER_TABLE = "#problems"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "toggle_key", "Show/hide API key"),
        Binding("K", "new_key", "New API key"),
        Binding("y", "copy_key", "Copy API key"),
    ]
    PROBLEM_COLUMNS = (
        Column("kind", "Kind", min_width=9),
        Column("name", "Name", max_width=30),
        Column("status", "Status", min_width=7),
        Column("since", "Since", min_width=8, max_width=12),
        Column("detail", "Detail", max_width=70),
    )
    EVENT_COLUMNS = (
        Column("when", "When (UTC)", width=19),
        Column("event", "Event", max_width=100),
    )

    def __init__(self) -> None:
        super().__init__()
        self.key_shown = False
        self._feed_shown = -1

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static("", id="problems-title", classes="pane-title")
        yield VirtualTable(self.PROBLEM_COLUMNS, id="problems", empty_text="Loading…")
        with Horizontal(id="cards"):
            yield Static("", id="card-jobs", classes="card")
            yield Static("", id="card-monitors", classes="card")
            yield Static("", id="card-heartbeats", classes="card")
        yield Static("", id="server")
        yield Static(" Recent events", classes="pane-title")
        yield VirtualTable(self.EVENT_COLUMNS, id="events", empty_text="Nothing has happened yet in this session.")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        self.query_one("#problems", VirtualTable).focus()
        if self.console.reveal_key and self.console.api_key:
            self.key_shown = True
            self.notify(
                "This is the owner's API key, created now. Only its hash is kept: copy it (y) before you quit.",
                title="New API key",
                timeout=20,
            )
        self.update_server()

    # -- syncing -----------------------------------------------------------------------------------
    def sync(self, delta: Delta | None) -> None:
        if not self.is_mounted:
            return
        if delta is None or delta.jobs or delta.monitors or delta.heartbeats or self._removed(delta):
            self.update_problems()
            self.update_cards()
        feed = self.console.bridge.feed
        if delta is None or delta.feed or len(feed) != self._feed_shown:
            self.update_events()

    @staticmethod
    def _removed(delta: Delta) -> bool:
        return bool(delta.removed_jobs or delta.removed_monitors or delta.removed_heartbeats)

    def tick(self) -> None:
        table = self.query_one("#problems", VirtualTable)
        if table.row_count:
            self.update_problems()

    def problems(self, now: datetime) -> list[tuple[str, list[Cell]]]:
        """Failing jobs, failing monitors and missing heartbeats, as table rows keyed `kind:id`."""
        model = self.console.model
        rows: list[tuple[str, list[Cell]]] = []
        for job_id, job_item in model.jobs.items():
            job = job_item.job
            if job.status is JobStatus.FAILING:
                last = job_item.last
                code = f"; last HTTP {last.status_code}" if last and last.status_code else ""
                detail = f"{job.consecutive_failures} runs failed in a row{code}"
                rows.append(
                    (f"job:{job_id}", self._row("job", job.name, job.status.value, job.updated_at, now, detail))
                )
        for monitor_id, monitor_item in model.monitors.items():
            monitor = monitor_item.monitor
            if monitor.status is MonitorStatus.FAILING:
                check = monitor_item.last
                detail = f"{monitor.consecutive_failures} checks failed in a row"
                if check is not None:
                    code = f" (HTTP {check.status_code})" if check.status_code else ""
                    detail += f"; last check {check.status}{code}"
                rows.append(
                    (
                        f"monitor:{monitor_id}",
                        self._row("monitor", monitor.name, monitor.status.value, monitor.updated_at, now, detail),
                    )
                )
        for heartbeat_id, heartbeat_item in model.heartbeats.items():
            heartbeat = heartbeat_item.heartbeat
            if heartbeat.state is HeartbeatState.DOWN:
                misses = heartbeat.consecutive_misses
                detail = f"{misses} pings missed" if misses else "the job reported a failure"
                if heartbeat.last_failure_output and not misses:
                    detail += f": {fmt.one_line(heartbeat.last_failure_output, 60)}"
                rows.append(
                    (
                        f"heartbeat:{heartbeat_id}",
                        self._row("heartbeat", heartbeat.name, heartbeat.status, heartbeat.updated_at, now, detail),
                    )
                )
        return rows

    @staticmethod
    def _row(kind: str, name: str, status: str, since: datetime, now: datetime, detail: str) -> list[Cell]:
        return [kind, name, Styled(status, "bad"), fmt.ago(since, now), detail]

    def update_problems(self) -> None:
        now = self.now()
        rows = self.problems(now)
        table = self.query_one("#problems", VirtualTable)
        loaded = self.console.model.loaded
        table.empty_text = "No problems: every job, monitor and heartbeat is healthy." if loaded else "Loading…"
        table.set_rows(rows)
        title = self.query_one("#problems-title", Static)
        if rows:
            title.update(
                Content.from_markup(" [b $error]Problems ($n)[/]  [dim]enter opens the item[/]", n=str(len(rows)))
            )
        else:
            title.update(Content.from_markup(" [b]Problems[/]"))

    def update_cards(self) -> None:
        model = self.console.model
        jobs = [item.job.status for item in model.jobs.values()]
        monitors = [item.monitor.status for item in model.monitors.values()]
        states = [item.heartbeat.state for item in model.heartbeats.values()]
        self.query_one("#card-jobs", Static).update(
            self._card(
                "2 Jobs",
                len(jobs),
                [
                    (jobs.count(JobStatus.ACTIVE), "active", "$success"),
                    (jobs.count(JobStatus.PAUSED), "paused", "$text-muted"),
                    (jobs.count(JobStatus.FAILING), "failing", "$error"),
                ],
            )
        )
        self.query_one("#card-monitors", Static).update(
            self._card(
                "3 Monitors",
                len(monitors),
                [
                    (monitors.count(MonitorStatus.ACTIVE), "active", "$success"),
                    (monitors.count(MonitorStatus.PAUSED), "paused", "$text-muted"),
                    (monitors.count(MonitorStatus.FAILING), "failing", "$error"),
                ],
            )
        )
        self.query_one("#card-heartbeats", Static).update(
            self._card(
                "4 Heartbeats",
                len(states),
                [
                    (states.count(HeartbeatState.UP) + states.count(HeartbeatState.NEW), "ok", "$success"),
                    (states.count(HeartbeatState.PAUSED), "paused", "$text-muted"),
                    (states.count(HeartbeatState.DOWN), "missing", "$error"),
                ],
            )
        )

    @staticmethod
    def _card(title: str, total: int, parts: list[tuple[int, str, str]]) -> Content:
        counts = " · ".join(
            f"[{colour}]{count} {word}[/]" if count else f"{count} {word}" for count, word, colour in parts
        )
        return Content.from_markup(f"[b]{title}[/b]  [b]{total}[/b] total\n{counts}")

    def update_server(self) -> None:
        console = self.console
        url = console.server_url
        key = console.api_key
        if key is None:
            key_line = "[dim]stored hashed, cannot be shown[/] · [b]K[/b] creates a new key (shown once)"
            key_value = ""
        elif self.key_shown:
            key_line = "$key  [dim]k hides · y copies · K creates another[/]"
            key_value = key
        else:
            key_line = f"$prefix{MASK}  [dim]k shows it · y copies[/]"
            key_value = key
        db = console.database_label()
        self.query_one("#server", Static).update(
            Content.from_markup(
                " [b]Server[/b]    $url  [dim]Tickstem SDKs: $url/v1 · CronSafe SDKs: $url[/]\n"
                f" [b]API key[/b]   {key_line}\n"
                " [b]Database[/b]  $db",
                url=url,
                key=key_value,
                prefix=key_value[:9],
                db=db,
            )
        )

    def update_events(self) -> None:
        feed = list(self.console.bridge.feed)
        self._feed_shown = len(feed)
        table = self.query_one("#events", VirtualTable)
        # The feed is newest first and bounded; its items are immutable, so their identity keys the rows.
        table.set_rows((str(id(item)), [fmt.clock(item.at), Styled(item.text, item.tone)]) for item in feed)

    # -- keys --------------------------------------------------------------------------------------
    @on(VirtualTable.Selected, "#problems")
    def _open_problem(self, event: VirtualTable.Selected) -> None:
        event.stop()
        kind, _, entity_id = event.key.partition(":")
        self.console.show_entity(f"{kind}s", entity_id)

    def action_toggle_key(self) -> None:
        if self.console.api_key is None:
            self.notify("The owner key is stored hashed and cannot be shown; K creates a new one.", severity="warning")
            return
        self.key_shown = not self.key_shown
        self.update_server()

    def action_copy_key(self) -> None:
        key = self.console.api_key
        if key is None:
            self.notify("No key to copy; K creates a new one.", severity="warning")
            return
        self.app.copy_to_clipboard(key)
        self.notify("API key copied to the clipboard")

    def action_new_key(self) -> None:
        self.confirm(
            "Create a new API key for the owner account? It is shown once (only its hash is stored); "
            "existing keys keep working.",
            self._create_key,
            label="Create",
        )

    def _create_key(self) -> None:
        async def create() -> None:
            key, _ = await self.services.accounts.create_key("console")
            self.console.api_key = key
            self.key_shown = True
            self.update_server()

        self.act(create, "New API key created: it is shown above until you leave; copy it now (y).")
