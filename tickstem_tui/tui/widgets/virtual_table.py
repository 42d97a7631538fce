"""A windowed table: keyed rows, only the visible lines rendered, cursor and scroll kept across updates, filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple, cast

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip


class Styled(NamedTuple):
    """A cell with a tone: `ok`, `bad`, `warn`, `muted` or `accent` (each a component class, so themes apply)."""

    text: str
    tone: str


Cell = str | Styled
"""What a cell holds: plain text, or text with a tone."""

TONES = ("ok", "bad", "warn", "muted", "accent")

GAP = 2
"""Blank columns between cells."""

STRIP_CACHE_LIMIT = 512
"""Rendered rows kept; a screenful is ~50, so this covers scrolling back and forth without growing."""


@dataclass(frozen=True, slots=True)
class Column:
    """A column: fixed `width`, or sized to its widest cell between `min_width` and `max_width`."""

    key: str
    label: str
    width: int | None = None
    min_width: int = 1
    max_width: int = 48
    align: Literal["left", "right"] = "left"


def cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell.text


def _fit(text: str, width: int, align: str) -> str:
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


class VirtualTable(ScrollView, can_focus=True):
    """Rows are keyed (an entity id); updates touch one row and repaint one line, never the whole table.

    The rows live in plain lists and dicts; `render_line` draws only what is on screen, so first paint
    and updates cost the same for ten rows or a hundred thousand.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "select", "Details"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--even-row",
        "virtual-table--empty",
        *(f"virtual-table--{tone}" for tone in TONES),
    }

    DEFAULT_CSS = """
    VirtualTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .virtual-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .virtual-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .virtual-table--even-row { background: $surface-lighten-1 30%; }
        & > .virtual-table--empty { color: $text-muted; text-style: italic; }
        & > .virtual-table--ok { color: $text-success; }
        & > .virtual-table--bad { color: $text-error; text-style: bold; }
        & > .virtual-table--warn { color: $text-warning; }
        & > .virtual-table--muted { color: $text-muted; }
        & > .virtual-table--accent { color: $text-accent; }
    }
    """

    class Highlighted(Message):
        """The cursor is on a different row (or on none: `key` is None)."""

        def __init__(self, table: VirtualTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    class Selected(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, table: VirtualTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty_text: str = "Nothing here yet.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self._column_index = {column.key: n for n, column in enumerate(self.columns)}
        self.empty_text = empty_text
        self._keys: list[str] = []
        self._cells: dict[str, list[Cell]] = {}
        self._versions: dict[str, int] = {}
        self._search: dict[str, str] = {}
        self._filter = ""
        self._view: list[str] | None = None
        """Keys shown, in order (None: recompute from `_keys` and the filter on next use)."""
        self._positions: dict[str, int] | None = None
        self._widths = [self._initial_width(column) for column in self.columns]
        self._strips: dict[tuple[str, int, bool, bool, int], Strip] = {}
        self._header: Strip | None = None
        self._tones: dict[str, Style] = {}
        self.cursor_row = 0
        self._cursor_key: str | None = None
        self._announced: str | None = "\0"

    # -- reading -----------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self.view)

    @property
    def total_count(self) -> int:
        return len(self._keys)

    @property
    def view(self) -> list[str]:
        if self._view is None:
            if self._filter:
                needle = self._filter
                search = self._search
                cells = self._cells
                for key in self._keys:
                    if key not in search:
                        search[key] = "\t".join([c if c.__class__ is str else c[0] for c in cells[key]]).lower()
                self._view = [key for key in self._keys if needle in search[key]]
            else:
                self._view = self._keys
            self._positions = None
        return self._view

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def cursor_key(self) -> str | None:
        view = self.view
        return view[self.cursor_row] if 0 <= self.cursor_row < len(view) else None

    def __contains__(self, key: object) -> bool:
        return key in self._cells

    def row_keys(self) -> list[str]:
        """Every row key in order (the filter ignored)."""
        return list(self._keys)

    def get_row(self, key: str) -> list[Cell]:
        return list(self._cells[key])

    def get_cell(self, key: str, column: str) -> Cell:
        return self._cells[key][self._column_index[column]]

    def index_of(self, key: str) -> int | None:
        """Position of `key` among the shown rows (None when absent or filtered out)."""
        if self._positions is None:
            self._positions = {k: n for n, k in enumerate(self.view)}
        return self._positions.get(key)

    def visible_keys(self) -> list[str]:
        """Keys of the rows on screen now (what a once-a-second refresh needs to touch)."""
        top = round(self.scroll_offset.y)
        return self.view[top : top + max(self._page_rows(), 1)]

    def rendered_line_text(self, y: int) -> str:
        """Plain text of screen line `y` (0 is the header), for tests and benchmarks."""
        return "".join(segment.text for segment in self.render_line(y))

    # -- changing ----------------------------------------------------------------------------------
    def set_rows(self, rows: Iterable[tuple[str, Sequence[Cell]]]) -> None:
        """Replace every row (keys not given disappear); the cursor stays on its row if that row survives."""
        with self._keeping_cursor():
            self._cells = {key: list(cells) for key, cells in rows}
            expected = len(self.columns)
            if any(len(cells) != expected for cells in self._cells.values()):
                raise ValueError(f"every row needs {expected} cells")
            self._keys = list(self._cells)
            self._versions = {}
            self._search = {}
            self._widths = [self._initial_width(column) for column in self.columns]
            self._grow_widths(self._cells.values())
            self._strips.clear()

    def upsert(self, key: str, cells: Sequence[Cell], *, first: bool = False) -> bool:
        """Add a row (at the end, or at the top with `first`) or replace its cells; True if anything changed."""
        values = self._checked(cells)
        old = self._cells.get(key)
        if old == values:
            return False
        if old is None:
            with self._keeping_cursor():
                self._cells[key] = values
                if first:
                    self._keys.insert(0, key)
                else:
                    self._keys.append(key)
                self._grow_widths((values,))
            return True
        self._cells[key] = values
        self._changed(key)
        if self._filter:
            self._invalidate_view_if_membership_changed(key)
        self._grow_widths((values,))
        self._refresh_row(key)
        return True

    def upsert_many(self, rows: Iterable[tuple[str, Sequence[Cell]]]) -> int:
        """`upsert` for a batch: one width pass and one repaint however many rows changed; returns how many."""
        changed: list[list[Cell]] = []
        added: list[tuple[str, list[Cell]]] = []
        filtered = bool(self._filter)
        for key, cells in rows:
            values = self._checked(cells)
            old = self._cells.get(key)
            if old == values:
                continue
            if old is None:
                added.append((key, values))
                continue
            self._cells[key] = values
            self._changed(key)
            changed.append(values)
        if added:
            with self._keeping_cursor():
                for key, values in added:
                    if key not in self._cells:
                        self._keys.append(key)
                    self._cells[key] = values
        elif changed and filtered:
            with self._keeping_cursor():
                pass  # membership of the filtered view may have changed
        if changed or added:
            self._grow_widths([*changed, *(values for _, values in added)])
            self.refresh()
            self._announce()
        return len(changed) + len(added)

    def update_cell(self, key: str, column: str, value: Cell) -> bool:
        """Change one cell; repaints its line only when it is on screen. True if the value changed."""
        cells = self._cells[key]
        index = self._column_index[column]
        if cells[index] == value:
            return False
        cells[index] = value
        self._changed(key)
        if self._filter:
            self._invalidate_view_if_membership_changed(key)
        self._grow_widths((cells,), only=index)
        self._refresh_row(key)
        return True

    def remove_rows(self, keys: Iterable[str]) -> int:
        """Drop rows; returns how many existed."""
        gone = {key for key in keys if key in self._cells}
        if not gone:
            return 0
        with self._keeping_cursor():
            self._keys = [key for key in self._keys if key not in gone]
            for key in gone:
                del self._cells[key]
                self._versions.pop(key, None)
                self._search.pop(key, None)
        return len(gone)

    def clear(self) -> None:
        self.set_rows(())

    def set_filter(self, text: str) -> None:
        """Show only rows whose text contains `text` (case-insensitive); empty shows all."""
        needle = text.strip().lower()
        if needle == self._filter:
            return
        with self._keeping_cursor():
            self._filter = needle

    def move_cursor(self, row: int) -> None:
        """Put the cursor on shown row `row` (clamped) and scroll it into view."""
        count = len(self.view)
        self.cursor_row = max(0, min(row, count - 1)) if count else 0
        self._cursor_key = self.cursor_key
        self._scroll_cursor_into_view()
        self.refresh()
        self._announce()

    def move_cursor_to_key(self, key: str) -> bool:
        index = self.index_of(key)
        if index is None:
            return False
        self.move_cursor(index)
        return True

    # -- actions -----------------------------------------------------------------------------------
    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(self._page_rows() - 1, 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(self._page_rows() - 1, 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.view) - 1)

    def action_select(self) -> None:
        if (key := self.cursor_key) is not None:
            self.post_message(self.Selected(self, key))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = round(self.scroll_offset.y) + offset.y - 1
        if row < len(self.view):
            self.move_cursor(row)
            if event.chain >= 2:
                self.action_select()

    def _on_focus(self, event: events.Focus) -> None:
        self._strips.clear()
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self._strips.clear()
        self.refresh()

    def on_mount(self) -> None:
        self._update_virtual_size()
        self._announce()

    def on_resize(self, event: events.Resize) -> None:
        self._header = None
        self._strips.clear()
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._tones.clear()
        self._header = None
        self.refresh()

    # -- rendering ---------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            strip = self._header_strip()
        else:
            view = self.view
            index = round(scroll_y) + y - 1
            if not view:
                if y == 1:
                    style = base + self.get_component_rich_style("virtual-table--empty")
                    return Strip([Segment(_fit(" " + self.empty_text, width, "left"), style)], width)
                return Strip.blank(width, base)
            if index >= len(view):
                return Strip.blank(width, base)
            strip = self._row_strip(view[index], index)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _row_strip(self, key: str, index: int) -> Strip:
        is_cursor = index == self.cursor_row
        even = index % 2 == 1
        fill = self.scrollable_content_region.width
        cache_key = (key, self._versions.get(key, 0), is_cursor, even, fill)
        strip = self._strips.get(cache_key)
        if strip is not None:
            return strip
        style = self.rich_style
        if is_cursor:
            style += self.get_component_rich_style("virtual-table--cursor")
        elif even:
            style += self.get_component_rich_style("virtual-table--even-row")
        strip = self._compose_strip(self._cells[key], style, fill)
        if len(self._strips) >= STRIP_CACHE_LIMIT:
            self._strips.clear()
        self._strips[cache_key] = strip
        return strip

    def _header_strip(self) -> Strip:
        if self._header is None:
            style = self.rich_style + self.get_component_rich_style("virtual-table--header")
            self._header = self._compose_strip(
                [column.label for column in self.columns], style, self.scrollable_content_region.width
            )
        return self._header

    def _compose_strip(self, cells: Sequence[Cell], style: Style, fill: int) -> Strip:
        """One line of cells; the row's own style runs on to `fill` columns so highlights span the widget."""
        segments: list[Segment] = [Segment(" ", style)]
        gap = Segment(" " * GAP, style)
        for column, width, cell in zip(self.columns, self._widths, cells, strict=True):
            if isinstance(cell, str):
                segments.append(Segment(_fit(cell, width, column.align), style))
            else:
                tone = self._tones.get(cell.tone)
                if tone is None:
                    tone = self._tones[cell.tone] = self.get_component_rich_style(
                        f"virtual-table--{cell.tone}", partial=True
                    )
                segments.append(Segment(_fit(cell.text, width, column.align), style + tone))
            segments.append(gap)
        width = self._line_width()
        if fill > width:
            segments.append(Segment(" " * (fill - width), style))
            width = fill
        return Strip(segments, width)

    # -- internals ---------------------------------------------------------------------------------
    def _checked(self, cells: Sequence[Cell]) -> list[Cell]:
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        return list(cells)

    def _search_text(self, key: str) -> str:
        text = self._search.get(key)
        if text is None:
            text = self._search[key] = "\t".join(cell_text(cell) for cell in self._cells[key]).lower()
        return text

    def _changed(self, key: str) -> None:
        self._versions[key] = self._versions.get(key, 0) + 1
        self._search.pop(key, None)

    def _invalidate_view_if_membership_changed(self, key: str) -> None:
        shown = self.index_of(key) is not None
        if shown != (self._filter in self._search_text(key)):
            with self._keeping_cursor():
                pass

    @staticmethod
    def _initial_width(column: Column) -> int:
        if column.width is not None:
            return column.width
        return max(column.min_width, min(cell_len(column.label), column.max_width))

    def _grow_widths(self, rows: Iterable[Sequence[Cell]], only: int | None = None) -> None:
        """Auto columns only ever widen between full reloads, so an update costs one row, not the table."""
        widths = self._widths
        auto = [
            n
            for n, column in enumerate(self.columns)
            if column.width is None and (only is None or n == only) and widths[n] < column.max_width
        ]
        if not auto:
            return
        rows = rows if isinstance(rows, list | tuple) else list(rows)
        grew = False
        for n in auto:
            texts = cast(list[str], [cells[n] if cells[n].__class__ is str else cells[n][0] for cells in rows])
            if not texts:
                continue
            # One C-level pass per column; cell widths only matter when something is not ASCII.
            longest = max(map(len, texts)) if "".join(texts).isascii() else max(map(cell_len, texts))
            longest = min(longest, self.columns[n].max_width)
            if longest > widths[n]:
                widths[n] = longest
                grew = True
        if grew:
            self._strips.clear()
            self._header = None
            self._update_virtual_size()
            self.refresh()

    def _line_width(self) -> int:
        return 1 + sum(self._widths) + GAP * len(self._widths)

    def _page_rows(self) -> int:
        return max(self.scrollable_content_region.height - 1, 0)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(self._line_width(), len(self.view) + 1)

    def _refresh_row(self, key: str) -> None:
        index = self.index_of(key)
        if index is None:
            return
        top = round(self.scroll_offset.y)
        line = index - top + 1
        if 1 <= line <= self._page_rows():
            self.refresh(Region(0, line, self.size.width, 1))
        if index == self.cursor_row:
            self._announce()

    def _scroll_cursor_into_view(self) -> None:
        page = self._page_rows()
        if page <= 0:
            return
        top = round(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def _announce(self) -> None:
        key = self.cursor_key
        if key != self._announced:
            self._announced = key
            self.post_message(self.Highlighted(self, key))

    def _keeping_cursor(self) -> _KeepCursor:
        return _KeepCursor(self)


class _KeepCursor:
    """Around a change of rows: afterwards the cursor is on the same row, at the same height on screen."""

    __slots__ = ("key", "offset", "row", "table", "top")

    def __init__(self, table: VirtualTable) -> None:
        self.table = table
        self.key: str | None = None
        self.row = 0
        self.offset = 0
        self.top = 0

    def __enter__(self) -> None:
        table = self.table
        self.key = table.cursor_key or table._cursor_key
        self.row = table.cursor_row
        self.top = round(table.scroll_offset.y)
        self.offset = table.cursor_row - self.top

    def __exit__(self, *exc: object) -> None:
        table = self.table
        table._view = None
        table._positions = None
        table._strips.clear()
        count = len(table.view)
        index = table.index_of(self.key) if self.key is not None else None
        if index is None:
            index = min(self.row, count - 1) if count else 0
        else:
            table._cursor_key = self.key
        table.cursor_row = max(index, 0)
        table._update_virtual_size()
        if count and table._page_rows() > 0:
            # Keep the cursor row where the eye was (rows added above it scroll the view with it), except
            # at the very top, which stays put so that newest-first lists show what arrives.
            top = 0 if self.top == 0 else max(0, min(table.cursor_row - self.offset, count - table._page_rows()))
            if top != round(table.scroll_offset.y):
                table.scroll_to(y=top, animate=False, immediate=True)
            table._scroll_cursor_into_view()
        table.refresh()
        table._announce()
