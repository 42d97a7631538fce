"""What every console screen shares: the top bar, the filter box, model syncing, and the entity-table screen."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Static

from tickstem_tui.tui.model import Delta
from tickstem_tui.tui.widgets.dialogs import ConfirmDialog, DetailsDialog
from tickstem_tui.tui.widgets.forms import steady_input
from tickstem_tui.tui.widgets.keybar import KeyBar
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, VirtualTable

if TYPE_CHECKING:
    from tickstem_tui.facade import Services
    from tickstem_tui.tui.app import TickstemApp

ItemT = TypeVar("ItemT")
RecordT = TypeVar("RecordT")

SCREENS: tuple[tuple[str, str, str], ...] = (
    ("1", "overview", "Overview"),
    ("2", "jobs", "Jobs"),
    ("3", "monitors", "Monitors"),
    ("4", "heartbeats", "Heartbeats"),
    ("5", "verify", "Verify"),
)

HISTORY_PAGE = 50
"""History rows per page: a pane shows one page, never the whole history."""


class NavBar(Static):
    """The top line: product, the five screens (current one highlighted, each clickable), server URL."""

    def __init__(self, current: str, server_url: str | None) -> None:
        super().__init__(id="nav")
        self.current = current
        self.server_url = server_url

    def on_mount(self) -> None:
        parts = [Content.from_markup("[b] tickstem-tui [/b]")]
        for key, mode, label in SCREENS:
            markup = f" {key} {label} "
            if mode == self.current:
                parts.append(Content.from_markup(f"[reverse b]{markup}[/]"))
            else:
                parts.append(Content.from_markup(f"[@click=app.switch_mode('{mode}')]{markup}[/]"))
        if self.server_url:
            parts.append(Content.from_markup(f"  [dim]serving[/] {self.server_url}"))
        self.update(Content("").join(parts))


class ConsoleScreen(Screen[None]):
    """A top-level screen (one per mode) kept in step with the console model."""

    MODE: ClassVar[str] = ""
    FILTER_TABLE: ClassVar[str] = "#main"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    @property
    def console(self) -> TickstemApp:
        return cast("TickstemApp", self.app)

    @property
    def services(self) -> Services:
        return self.console.services

    @property
    def account_id(self) -> str:
        return self.console.account_id

    def now(self) -> datetime:
        return self.console.services.clock.now()

    def compose_top(self) -> ComposeResult:
        yield NavBar(self.MODE, self.console.server_url)

    def compose_bottom(self) -> ComposeResult:
        yield steady_input(self.console.cursor_blink, id="filter", placeholder="filter: type to narrow, enter keeps")
        yield KeyBar(VirtualTable)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        # A screen's widgets and rows live as long as the app: keep them out of full collections too.
        self.call_after_refresh(gc.freeze)

    def on_screen_resume(self) -> None:
        self.sync(None)

    def sync(self, delta: Delta | None) -> None:
        """Bring the screen in line with the model; `None` means compare everything."""

    def tick(self) -> None:
        """Once a second while shown: refresh what depends on the clock (countdowns, "ago")."""

    def _tick(self) -> None:
        if self.is_current:
            self.tick()

    # -- filter ------------------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        table = self.query_one(self.FILTER_TABLE, VirtualTable)
        box.value = ""
        box.remove_class("visible")
        table.set_filter("")
        table.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one(self.FILTER_TABLE, VirtualTable).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        box = self.query_one("#filter", Input)
        if not box.value:
            box.remove_class("visible")
        self.query_one(self.FILTER_TABLE, VirtualTable).focus()

    # -- helpers -----------------------------------------------------------------------------------
    def act(self, action: Callable[[], Awaitable[object]], success: str | None = None) -> None:
        self.console.act(action, success)

    def confirm(self, question: str, then: Callable[[], None], *, label: str = "Delete") -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmDialog(question, confirm_label=label), answered)

    def details(self, title: str, rows: Sequence[tuple[str, str]], copy_text: str | None = None) -> None:
        self.app.push_screen(DetailsDialog(title, rows, copy_text=copy_text))


class EntityScreen(ConsoleScreen, Generic[ItemT, RecordT]):
    """An entity table on top, the selected entity's history (paged) below, and the keys that act on it."""

    NOUN: ClassVar[str] = "item"
    HISTORY_NOUN: ClassVar[str] = "history"
    COLUMNS: ClassVar[Sequence[Column]] = ()
    HISTORY_COLUMNS: ClassVar[Sequence[Column]] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("p", "pause", "Pause/resume"),
        Binding("d", "delete", "Delete"),
        Binding("left_square_bracket", "newer", "Newer history", show=False),
        Binding("right_square_bracket", "older", "Older history", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selected: str | None = None
        self.history_offset = 0
        self._shown: dict[str, int] = {}
        self._history: dict[str, RecordT] = {}

    # -- what subclasses provide -------------------------------------------------------------------
    def items(self) -> Mapping[str, ItemT]:
        raise NotImplementedError

    def version(self, item: ItemT) -> int:
        return cast(int, cast(Any, item).version)

    def cells(self, item: ItemT, now: datetime) -> list[Cell]:
        raise NotImplementedError

    def changed_ids(self, delta: Delta) -> tuple[set[str], set[str], set[str]]:
        """(changed, removed, with new history) ids of this screen's kind."""
        raise NotImplementedError

    async def fetch_history(self, entity_id: str, offset: int) -> list[RecordT]:
        raise NotImplementedError

    def history_key(self, record: RecordT) -> str:
        return str(cast(Any, record).id)

    def history_cells(self, record: RecordT, now: datetime) -> list[Cell]:
        raise NotImplementedError

    def name_of(self, item: ItemT) -> str:
        raise NotImplementedError

    def history_loaded(self, records: list[RecordT]) -> None:
        """Hook after a history page arrived (the monitors screen draws its sparkline here)."""

    # -- layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield VirtualTable(self.COLUMNS, id="main", empty_text=f"Loading {self.NOUN}s…")
        yield Static("", id="history-title", classes="pane-title")
        yield from self.compose_detail()
        yield VirtualTable(self.HISTORY_COLUMNS, id="history", empty_text=f"Select a {self.NOUN} to see its history.")
        yield from self.compose_bottom()

    def compose_detail(self) -> ComposeResult:
        """Widgets between the history title and the history table."""
        yield from ()

    def on_mount(self) -> None:
        self.main.focus()

    @property
    def main(self) -> VirtualTable:
        return self.query_one("#main", VirtualTable)

    @property
    def history(self) -> VirtualTable:
        return self.query_one("#history", VirtualTable)

    @property
    def selected_item(self) -> ItemT | None:
        return None if self.selected is None else self.items().get(self.selected)

    # -- syncing -----------------------------------------------------------------------------------
    def sync(self, delta: Delta | None) -> None:
        if not self.is_mounted:
            return
        table = self.main
        items = self.items()
        now = self.now()
        if self.console.model.loaded:
            table.empty_text = f"No {self.NOUN}s yet. Press n to create one."
        if delta is None:
            if not self._shown:
                table.set_rows((key, self.cells(item, now)) for key, item in items.items())
                self._shown = {key: self.version(item) for key, item in items.items()}
            else:
                gone = [key for key in self._shown if key not in items]
                table.remove_rows(gone)
                for key in gone:
                    del self._shown[key]
                stale = [(key, item) for key, item in items.items() if self._shown.get(key) != self.version(item)]
                table.upsert_many((key, self.cells(item, now)) for key, item in stale)
                self._shown.update((key, self.version(item)) for key, item in stale)
            self._refresh_selected(history=self.selected is not None and not self._history)
            return
        changed, removed, with_history = self.changed_ids(delta)
        if removed:
            table.remove_rows(removed)
            for key in removed:
                self._shown.pop(key, None)
        present = [(key, items[key]) for key in changed if key in items]
        table.upsert_many((key, self.cells(item, now)) for key, item in present)
        self._shown.update((key, self.version(item)) for key, item in present)
        self._refresh_selected(history=self.selected in with_history and self.history_offset == 0)

    def _refresh_selected(self, *, history: bool) -> None:
        item = self.selected_item
        if self.selected is not None and item is None:
            self.selected = None
            self._history.clear()
            self.history.clear()
        self.update_detail()
        if history and self.selected is not None:
            self.load_history()

    def tick(self) -> None:
        table = self.main
        items = self.items()
        now = self.now()
        table.upsert_many((key, self.cells(items[key], now)) for key in table.visible_keys() if key in items)

    def update_detail(self) -> None:
        """Refresh the pane title (and any detail widgets) for the selected entity."""
        title = self.query_one("#history-title", Static)
        item = self.selected_item
        if item is None:
            title.update(f" {self.HISTORY_NOUN.capitalize()}")
            return
        page = self.history_offset // HISTORY_PAGE + 1
        title.update(
            Content.from_markup(
                " $noun of [b]$name[/b]  [dim]page $page · ] older · \\[ newer · tab switches tables[/]",
                noun=self.HISTORY_NOUN.capitalize(),
                name=self.name_of(item),
                page=str(page),
            )
        )

    # -- history -----------------------------------------------------------------------------------
    @on(VirtualTable.Highlighted, "#main")
    def _main_highlighted(self, event: VirtualTable.Highlighted) -> None:
        event.stop()
        if event.key == self.selected:
            return
        self.selected = event.key
        self.history_offset = 0
        self.update_detail()
        if event.key is None:
            self._history.clear()
            self.history.clear()
        else:
            self.load_history()

    @work(group="history", exclusive=True, exit_on_error=False)
    async def load_history(self) -> None:
        entity_id = self.selected
        if entity_id is None:
            return
        offset = self.history_offset
        try:
            records = await self.fetch_history(entity_id, offset)
        except Exception as exc:  # NotFound when it vanished meanwhile; the next sync drops the row
            self.history.empty_text = f"History unavailable: {getattr(exc, 'message', exc)}"
            self.history.clear()
            return
        if entity_id != self.selected:
            return
        now = self.now()
        self._history = {self.history_key(record): record for record in records}
        self.history.empty_text = "No history yet." if offset == 0 else "No older entries."
        self.history.set_rows((key, self.history_cells(record, now)) for key, record in self._history.items())
        self.update_detail()
        self.history_loaded(records)

    def action_older(self) -> None:
        if self.selected is not None and len(self._history) >= HISTORY_PAGE:
            self.history_offset += HISTORY_PAGE
            self.load_history()

    def action_newer(self) -> None:
        if self.selected is not None and self.history_offset > 0:
            self.history_offset = max(0, self.history_offset - HISTORY_PAGE)
            self.load_history()

    # -- keys --------------------------------------------------------------------------------------
    def require_selected(self) -> tuple[str, ItemT] | None:
        item = self.selected_item
        if self.selected is None or item is None:
            self.notify(f"Select a {self.NOUN} first", severity="warning")
            return None
        return self.selected, item

    @on(VirtualTable.Selected, "#main")
    def _main_selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        item = self.items().get(event.key)
        if item is not None:
            self.show_details(event.key, item)

    @on(VirtualTable.Selected, "#history")
    def _history_selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        record = self._history.get(event.key)
        if record is not None:
            self.show_history_details(record)

    def show_details(self, entity_id: str, item: ItemT) -> None:
        raise NotImplementedError

    def show_history_details(self, record: RecordT) -> None:
        raise NotImplementedError

    def action_delete(self) -> None:
        chosen = self.require_selected()
        if chosen is None:
            return
        entity_id, item = chosen
        name = self.name_of(item)
        self.confirm(
            f"Delete {self.NOUN} “{name}” and all its {self.HISTORY_NOUN}? This cannot be undone.",
            lambda: self.act(lambda: self.delete(entity_id), f"Deleted {self.NOUN} “{name}”"),
        )

    async def delete(self, entity_id: str) -> None:
        raise NotImplementedError
