"""Heartbeats (Tickstem and CronSafe): status, last ping, next deadline counting down, misses; pings below."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Static

from tickstem_tui.domain.heartbeats import Face, Heartbeat, HeartbeatState, parse_create
from tickstem_tui.tui import format as fmt
from tickstem_tui.tui.model import Delta, HeartbeatItem
from tickstem_tui.tui.screens.base import HISTORY_PAGE, EntityScreen
from tickstem_tui.tui.widgets.forms import Field, FormScreen, number_or_text
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, Styled

if TYPE_CHECKING:
    from tickstem_tui.domain.heartbeats import PingRecord

FACE_WORDS = {Face.TICKSTEM: "Tickstem", Face.CRONSAFE: "CronSafe"}
STATE_TONES = {
    HeartbeatState.NEW: "muted",
    HeartbeatState.UP: "ok",
    HeartbeatState.DOWN: "bad",
    HeartbeatState.PAUSED: "muted",
}


def ping_urls(server_url: str, heartbeat: Heartbeat) -> list[tuple[str, str]]:
    """(how, URL) for every way this heartbeat can be pinged; the face's native one first."""
    token_url = ("POST", f"{server_url}/v1/heartbeats/{heartbeat.token}/ping")
    if heartbeat.slug:
        slug_url = ("GET", f"{server_url}/ping/{heartbeat.slug}")
        return [slug_url, token_url] if heartbeat.face is Face.CRONSAFE else [token_url, slug_url]
    return [token_url]


def deadline_cell(heartbeat: Heartbeat, now: datetime) -> Cell:
    """Time left before the deadline; after it, the time late and how much grace remains."""
    if heartbeat.state is HeartbeatState.PAUSED:
        return Styled("paused", "muted")
    deadline, alert_after = heartbeat.next_expected_at, heartbeat.alert_after
    if deadline is None:
        return Styled("after first ping", "muted")
    if now <= deadline:
        return Styled(fmt.until(deadline, now), "ok" if heartbeat.state is not HeartbeatState.DOWN else "bad")
    late = fmt.span((now - deadline).total_seconds())
    if alert_after is not None and now < alert_after:
        return Styled(f"{late} late, grace {fmt.span((alert_after - now).total_seconds())}", "warn")
    return Styled(f"{late} late", "bad")


class HeartbeatsScreen(EntityScreen[HeartbeatItem, "PingRecord"]):
    MODE = "heartbeats"
    NOUN = "heartbeat"
    HISTORY_NOUN = "pings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "ping", "Ping now"),
        Binding("c", "copy_url", "Copy ping URL"),
    ]
    COLUMNS = (
        Column("name", "Name", max_width=26),
        Column("kind", "Kind", min_width=8),
        Column("status", "Status", min_width=7),
        Column("last", "Last ping", min_width=9, max_width=14),
        Column("deadline", "Next deadline", min_width=13, max_width=26),
        Column("misses", "Misses", align="right", min_width=6),
        Column("every", "Every", min_width=10, max_width=18),
    )
    HISTORY_COLUMNS = (
        Column("when", "Received (UTC)", width=19),
        Column("kind", "Kind", min_width=7),
        Column("duration", "Run took", align="right", min_width=8),
        Column("from", "From", max_width=40),
        Column("output", "Output", max_width=60),
    )

    def compose_detail(self) -> ComposeResult:
        yield Static("", id="ping-url")

    def items(self) -> Mapping[str, HeartbeatItem]:
        return self.console.model.heartbeats

    def name_of(self, item: HeartbeatItem) -> str:
        return item.heartbeat.name

    def changed_ids(self, delta: Delta) -> tuple[set[str], set[str], set[str]]:
        return delta.heartbeats, delta.removed_heartbeats, delta.pings

    def cells(self, item: HeartbeatItem, now: datetime) -> list[Cell]:
        heartbeat = item.heartbeat
        spec = heartbeat.spec
        misses = heartbeat.consecutive_misses
        return [
            heartbeat.name,
            FACE_WORDS[heartbeat.face],
            Styled(heartbeat.status, STATE_TONES[heartbeat.state]),
            fmt.ago(heartbeat.last_ping_at, now),
            deadline_cell(heartbeat, now),
            Styled(str(misses), "bad" if misses else "muted"),
            f"{fmt.span(spec.interval_secs)} + {fmt.span(spec.grace_secs)}",
        ]

    async def fetch_history(self, entity_id: str, offset: int) -> list[PingRecord]:
        return await self.services.heartbeats.pings(self.owner_of(entity_id), entity_id, HISTORY_PAGE, offset)

    def owner_of(self, heartbeat_id: str) -> str:
        """The heartbeat's account: the console lists CronSafe accounts' monitors beside the owner's."""
        item = self.items().get(heartbeat_id)
        return item.heartbeat.account_id if item is not None else self.account_id

    def history_cells(self, record: PingRecord, now: datetime) -> list[Cell]:
        kind = record.kind.value
        tone = {"success": "ok", "fail": "bad", "start": "accent"}.get(kind, "muted")
        source = " ".join(part for part in (record.ip, record.user_agent) if part)
        return [
            fmt.clock(record.received_at),
            Styled(kind + (" (paused)" if record.paused else ""), "muted" if record.paused else tone),
            fmt.duration_ms(record.duration_ms),
            fmt.one_line(source) or fmt.DASH,
            fmt.one_line(record.output),
        ]

    def update_detail(self) -> None:
        super().update_detail()
        panel = self.query_one("#ping-url", Static)
        item = self.selected_item
        if item is None:
            panel.update("")
            return
        lines = [
            Content.from_markup(" [b]$how[/b] $url", how=how.ljust(4), url=url)
            for how, url in ping_urls(self.console.server_url, item.heartbeat)
        ]
        lines[0] = lines[0] + Content.from_markup("  [dim](c copies)[/]")
        panel.update(Content("\n").join(lines))

    # -- details -----------------------------------------------------------------------------------
    def show_details(self, entity_id: str, item: HeartbeatItem) -> None:
        heartbeat = item.heartbeat
        urls = ping_urls(self.console.server_url, heartbeat)
        self.details(
            f"Heartbeat “{heartbeat.name}”",
            [
                ("ID", heartbeat.id),
                ("Kind", FACE_WORDS[heartbeat.face]),
                ("Account", "the owner" if heartbeat.account_id == self.account_id else heartbeat.account_id),
                ("Status", f"{heartbeat.status} ({heartbeat.consecutive_misses} missed in a row)"),
                *((f"Ping ({how})", url) for how, url in urls),
                ("Every", f"{heartbeat.spec.interval_secs} s, grace {heartbeat.spec.grace_secs} s"),
                ("Last ping", fmt.clock(heartbeat.last_ping_at)),
                ("Deadline", fmt.clock(heartbeat.next_expected_at)),
                ("Alert after", fmt.clock(heartbeat.alert_after)),
                ("Last run took", fmt.duration_ms(heartbeat.last_duration_ms)),
                ("Last failure", fmt.one_line(heartbeat.last_failure_output) or fmt.DASH),
                ("Created", fmt.clock(heartbeat.created_at)),
            ],
            copy_text=urls[0][1],
        )

    def show_history_details(self, record: PingRecord) -> None:
        self.details(
            f"Ping {record.id}",
            [
                ("Kind", record.kind.value + (" (arrived while paused)" if record.paused else "")),
                ("Received", fmt.clock(record.received_at)),
                ("Run took", fmt.duration_ms(record.duration_ms)),
                ("From", record.ip or fmt.DASH),
                ("User agent", record.user_agent or fmt.DASH),
                ("Output", record.output or fmt.DASH),
            ],
        )

    # -- keys --------------------------------------------------------------------------------------
    def action_copy_url(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        url = ping_urls(self.console.server_url, chosen[1].heartbeat)[0][1]
        self.app.copy_to_clipboard(url)
        self.notify(f"Copied {url}")

    def action_ping(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        heartbeat = chosen[1].heartbeat
        self.act(
            lambda: self.services.heartbeats.ping(heartbeat.token, user_agent="tickstem-tui console"),
            f"Pinged “{heartbeat.name}”",
        )

    def action_pause(self) -> None:
        if (chosen := self.require_selected()) is None:
            return
        heartbeat_id, item = chosen
        heartbeats = self.services.heartbeats
        owner = item.heartbeat.account_id
        if item.heartbeat.state is HeartbeatState.PAUSED:
            self.act(lambda: heartbeats.resume(owner, heartbeat_id), f"Resumed “{item.heartbeat.name}”")
        else:
            self.act(lambda: heartbeats.pause(owner, heartbeat_id), f"Paused “{item.heartbeat.name}”")

    async def delete(self, entity_id: str) -> None:
        await self.services.heartbeats.delete(self.owner_of(entity_id), entity_id)

    def action_new(self) -> None:
        self._open_form(None)

    def action_edit(self) -> None:
        if (chosen := self.require_selected()) is not None:
            self._open_form(chosen[1].heartbeat)

    def _open_form(self, heartbeat: Heartbeat | None) -> None:
        spec = heartbeat.spec if heartbeat is not None else None
        fields = []
        if heartbeat is None:
            fields.append(
                Field(
                    "face",
                    "Kind",
                    Face.TICKSTEM.value,
                    kind="select",
                    options=tuple((FACE_WORDS[face], face.value) for face in Face),
                    hint="Tickstem: POST …/v1/heartbeats/{token}/ping · CronSafe: GET …/ping/{slug}",
                )
            )
        fields += [
            Field("name", "Name", spec.name if spec else "", "nightly-etl"),
            Field("interval_secs", "Every (s)", str(spec.interval_secs) if spec else "3600", hint="60 to 604800"),
            Field("grace_secs", "Grace (s)", str(spec.grace_secs) if spec else "300", hint="0 to 86400"),
        ]

        async def submit(values: dict[str, str]) -> str:
            body: dict[str, object] = {
                "name": values["name"],
                "interval_secs": number_or_text(values["interval_secs"]),
                "grace_secs": number_or_text(values["grace_secs"]),
            }
            if heartbeat is None:
                face = Face(values["face"])
                created = await self.services.heartbeats.create_from_spec(
                    self.account_id, parse_create(body), face=face
                )
                return f"Created heartbeat “{created.name}”"
            saved = await self.services.heartbeats.update(heartbeat.account_id, heartbeat.id, body)
            return f"Saved heartbeat “{saved.name}”"

        title = "New heartbeat" if heartbeat is None else f"Edit heartbeat “{heartbeat.name}”"
        self.app.push_screen(FormScreen(title, fields, submit, blink=self.console.cursor_blink))
