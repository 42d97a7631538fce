"""Monitors: uptime monitors with status, response time, uptime and certificate expiry; sparkline and checks below."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Sparkline, Static

from tickstem_tui.domain.monitors import Monitor, MonitorCheck, MonitorStatus
from tickstem_tui.tui import format as fmt
from tickstem_tui.tui.model import Delta, MonitorItem
from tickstem_tui.tui.screens.base import HISTORY_PAGE, EntityScreen
from tickstem_tui.tui.widgets.forms import Field, FormScreen, format_assertions, number_or_text, parse_assertions
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, Styled


class MonitorsScreen(EntityScreen[MonitorItem, MonitorCheck]):
    MODE = "monitors"
    NOUN = "monitor"
    HISTORY_NOUN = "checks"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "check", "Check now")]
    COLUMNS = (
        Column("name", "Name", max_width=24),
        Column("url", "URL", max_width=36),
        Column("status", "Status", min_width=7),
        Column("response", "Response", align="right", min_width=8),
        Column("day", "24 h", align="right", min_width=7),
        Column("month", "30 d", align="right", min_width=7),
        Column("cert", "Certificate", min_width=11, max_width=20),
    )
    HISTORY_COLUMNS = (
        Column("when", "Checked (UTC)", width=19),
        Column("status", "Result", min_width=7),
        Column("code", "HTTP", align="right", min_width=4),
        Column("duration", "Response", align="right", min_width=8),
        Column("error", "Error", max_width=70),
    )

    def compose_detail(self) -> ComposeResult:
        with Horizontal(id="latency-row"):
            yield Static("", id="latency-label")
            yield Sparkline([], id="latency")

    def items(self) -> Mapping[str, MonitorItem]:
        return self.console.model.monitors

    def name_of(self, item: MonitorItem) -> str:
        return item.monitor.name

    def changed_ids(self, delta: Delta) -> tuple[set[str], set[str], set[str]]:
        return delta.monitors, delta.removed_monitors, delta.checks

    def cells(self, item: MonitorItem, now: datetime) -> list[Cell]:
        monitor = item.monitor
        last = item.last
        if last is None:
            response: Cell = Styled(fmt.DASH, "muted")
        else:
            response = Styled(fmt.duration_ms(last.duration_ms), "ok" if last.status == "up" else "bad")
        uptime = item.uptime
        day = uptime.day if uptime else None
        month = uptime.month if uptime else None
        cert_text, cert_tone = (
            fmt.cert_expiry(monitor.ssl_expires_at, now) if monitor.spec.is_https else ("no TLS", "muted")
        )
        return [
            monitor.name,
            monitor.spec.url,
            Styled(monitor.status.value, fmt.tone(monitor.status.value)),
            response,
            Styled(fmt.percent(day), fmt.uptime_tone(day)),
            Styled(fmt.percent(month), fmt.uptime_tone(month)),
            Styled(cert_text, cert_tone),
        ]

    async def fetch_history(self, entity_id: str, offset: int) -> list[MonitorCheck]:
        return await self.services.monitors.checks(self.account_id, entity_id, HISTORY_PAGE, offset)

    def history_cells(self, record: MonitorCheck, now: datetime) -> list[Cell]:
        status = record.status.value
        return [
            fmt.clock(record.checked_at),
            Styled(status, fmt.tone(status)),
            str(record.status_code) if record.status_code is not None else fmt.DASH,
            fmt.duration_ms(record.duration_ms),
            fmt.one_line(record.error),
        ]

    def history_loaded(self, records: list[MonitorCheck]) -> None:
        values = [float(check.duration_ms) for check in reversed(records)]
        self.query_one("#latency", Sparkline).data = values
        label = self.query_one("#latency-label", Static)
        if values:
            low, high = min(values), max(values)
            average = sum(values) / len(values)
            label.update(
                f" Response time, last {len(values)} checks\n min {fmt.duration_ms(round(low))} · "
                f"avg {fmt.duration_ms(round(average))} · max {fmt.duration_ms(round(high))}"
            )
        else:
            label.update(" Response time\n no checks yet")

    def update_detail(self) -> None:
        super().update_detail()
        if self.selected_item is None:
            self.query_one("#latency", Sparkline).data = []
            self.query_one("#latency-label", Static).update(" Response time ")

    # -- details -----------------------------------------------------------------------------------
    def show_details(self, entity_id: str, item: MonitorItem) -> None:
        monitor = item.monitor
        spec = monitor.spec
        uptime = item.uptime
        self.details(
            f"Monitor “{monitor.name}”",
            [
                ("ID", monitor.id),
                ("URL", spec.url),
                ("Status", f"{monitor.status.value} ({monitor.consecutive_failures} failed in a row)"),
                ("Every", f"{spec.interval_secs} s, timeout {spec.timeout_secs} s"),
                ("Assertions", format_assertions(spec.assertions) or "status 2xx/3xx (the default)"),
                ("Uptime 24 h", fmt.percent(uptime.day if uptime else None)),
                ("Uptime 7 d", fmt.percent(uptime.week if uptime else None)),
                ("Uptime 30 d", fmt.percent(uptime.month if uptime else None)),
                ("Certificate", fmt.cert_expiry(monitor.ssl_expires_at, self.now())[0]),
                ("Last check", fmt.clock(monitor.last_checked_at)),
                ("Next check", fmt.clock(monitor.next_check_at)),
                ("Created", fmt.clock(monitor.created_at)),
            ],
        )

    def show_history_details(self, record: MonitorCheck) -> None:
        self.details(
            f"Check {record.id}",
            [
                ("Result", record.status.value),
                ("HTTP status", fmt.DASH if record.status_code is None else str(record.status_code)),
                ("Response time", fmt.duration_ms(record.duration_ms)),
                ("Checked", fmt.clock(record.checked_at)),
                ("Certificate", fmt.clock(record.ssl_expires_at)),
                ("Error", record.error or fmt.DASH),
            ],
        )

    # -- keys --------------------------------------------------------------------------------------
    def action_check(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        monitor_id, item = chosen
        self.act(
            lambda: self.services.monitors.check_now(self.account_id, monitor_id), f"Checking “{item.monitor.name}”"
        )

    def action_pause(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        monitor_id, item = chosen
        monitors = self.services.monitors
        if item.monitor.status is MonitorStatus.PAUSED:
            self.act(lambda: monitors.resume(self.account_id, monitor_id), f"Resumed “{item.monitor.name}”")
        else:
            self.act(lambda: monitors.pause(self.account_id, monitor_id), f"Paused “{item.monitor.name}”")

    async def delete(self, entity_id: str) -> None:
        await self.services.monitors.delete(self.account_id, entity_id)

    def action_new(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        if (chosen := self.require_selected()) is not None:
            self._open_form(chosen[1].monitor)

    def _open_form(self, monitor: Monitor | None) -> None:
        spec = monitor.spec if monitor is not None else None
        minimum = self.services.settings.min_monitor_interval_secs
        fields = [
            Field("name", "Name", spec.name if spec else "", "api"),
            Field("url", "URL", spec.url if spec else "", "https://api.example.com/health"),
            Field("interval_secs", "Every (s)", str(spec.interval_secs) if spec else "60", hint=f"at least {minimum}"),
            Field("timeout_secs", "Timeout (s)", str(spec.timeout_secs) if spec else "10", hint="5 to 30"),
            Field(
                "assertions",
                "Assertions",
                format_assertions(spec.assertions) if spec else "",
                kind="area",
                hint="one a line: status_code eq 200 · response_time lt 500 · body contains ok",
            ),
        ]

        async def submit(values: dict[str, str]) -> str:
            body: dict[str, object] = {
                "name": values["name"],
                "url": values["url"],
                "interval_secs": number_or_text(values["interval_secs"]),
                "timeout_secs": number_or_text(values["timeout_secs"]),
                "assertions": parse_assertions(values["assertions"]),
            }
            if monitor is None:
                created = await self.services.monitors.create(self.account_id, body)
                return f"Created monitor “{created.name}”"
            saved = await self.services.monitors.update(self.account_id, monitor.id, body)
            return f"Saved monitor “{saved.name}”"

        title = "New monitor" if monitor is None else f"Edit monitor “{monitor.name}”"
        self.app.push_screen(FormScreen(title, fields, submit, blink=self.console.cursor_blink))
