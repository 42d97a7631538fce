"""The windowed table on its own: keyed rows, one-line repaints, cursor and scroll kept across changes, filter."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message

from tickstem_tui.tui.widgets.virtual_table import Column, Styled, VirtualTable

COLUMNS = (Column("name", "Name"), Column("status", "Status"), Column("ms", "Took", align="right"))


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, id="t")


def rows(count: int, start: int = 0) -> list[tuple[str, list[str | Styled]]]:
    return [(f"k{n}", [f"row {n}", Styled("up", "ok"), f"{n} ms"]) for n in range(start, start + count)]


def highlighted(messages: list[Message]) -> list[str | None]:
    unique = {id(m): m for m in messages if isinstance(m, VirtualTable.Highlighted)}
    return [m.key for m in unique.values()]


async def test_only_visible_lines_are_drawn_and_the_header_stays() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_rows(rows(10_000))
        await pilot.pause()
        assert table.row_count == 10_000
        assert table.rendered_line_text(0).split() == ["Name", "Status", "Took"]
        assert table.rendered_line_text(1).split() == ["row", "0", "up", "0", "ms"]
        await pilot.press("end")
        assert table.cursor_key == "k9999"
        assert table.rendered_line_text(0).split()[0] == "Name", "the header does not scroll"
        assert "row 9999" in table.rendered_line_text(table.size.height - 1) or any(
            "row 9999" in table.rendered_line_text(y) for y in range(1, table.size.height)
        )
        assert table.visible_keys()[-1] == "k9999"
        assert len(table.visible_keys()) <= table.size.height


async def test_updates_are_keyed_and_report_whether_anything_changed() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_rows(rows(5))
        assert table.update_cell("k2", "status", Styled("down", "bad")) is True
        assert table.update_cell("k2", "status", Styled("down", "bad")) is False
        assert table.upsert("k2", ["row 2", Styled("down", "bad"), "2 ms"]) is False
        assert table.upsert("k9", ["row 9", "new", "9 ms"]) is True
        await pilot.pause()
        assert table.row_keys() == ["k0", "k1", "k2", "k3", "k4", "k9"]
        assert "down" in table.rendered_line_text(3)
        assert table.remove_rows(["k0", "missing"]) == 1
        assert table.row_keys() == ["k1", "k2", "k3", "k4", "k9"]


async def test_the_cursor_follows_its_row_when_rows_arrive_above_or_vanish() -> None:
    messages: list[Message] = []
    app = TableApp()
    async with app.run_test(size=(60, 12), message_hook=messages.append) as pilot:
        table = app.query_one(VirtualTable)
        table.focus()
        table.set_rows(rows(100))
        await pilot.press("pagedown", "down", "down")
        key = table.cursor_key
        screen_row = table.cursor_row - round(table.scroll_offset.y)
        assert key is not None and table.cursor_row > 5

        # New rows at the top: same row under the cursor, at the same height on screen.
        for n in range(3):
            table.upsert(f"new{n}", [f"new {n}", "up", "1 ms"], first=True)
        await pilot.pause()
        assert table.cursor_key == key
        assert table.cursor_row - round(table.scroll_offset.y) == screen_row

        # A full reload keeps it too.
        table.set_rows(list(reversed(rows(100))))
        await pilot.pause()
        assert table.cursor_key == key

        # Its own row removed: the cursor stays at that position (on a neighbour).
        position = table.cursor_row
        table.remove_rows([key])
        await pilot.pause()
        assert table.cursor_row == position and table.cursor_key != key
        assert highlighted(messages)[-1] == table.cursor_key


async def test_newest_first_lists_show_what_arrives_when_scrolled_to_the_top() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_rows(rows(30))
        table.upsert("latest", ["latest", "up", "1 ms"], first=True)
        await pilot.pause()
        assert round(table.scroll_offset.y) == 0
        assert "latest" in table.rendered_line_text(1)


async def test_filter_is_case_insensitive_and_keeps_the_cursor_on_its_row() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(VirtualTable)
        table.set_rows(rows(50))
        table.move_cursor_to_key("k42")
        table.set_filter("ROW 4")
        await pilot.pause()
        assert table.view == ["k4", *(f"k{n}" for n in range(40, 50))]
        assert table.cursor_key == "k42"
        table.update_cell("k41", "name", "renamed")
        assert "k41" not in table.view, "a row that stops matching leaves the filtered view"
        table.set_filter("")
        assert table.row_count == 50 and table.cursor_key == "k42"


async def test_enter_and_double_click_select_the_row() -> None:
    messages: list[Message] = []
    app = TableApp()
    async with app.run_test(size=(60, 12), message_hook=messages.append) as pilot:
        table = app.query_one(VirtualTable)
        table.focus()
        table.set_rows(rows(5))
        await pilot.press("down", "enter")
        await pilot.click(VirtualTable, offset=(3, 4), times=2)
        # A message is seen once per node it bubbles through; count each message once.
        unique = {id(m): m for m in messages if isinstance(m, VirtualTable.Selected)}
        selected = [m.key for m in unique.values()]
        assert selected == ["k1", "k3"]


async def test_an_empty_table_says_so() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 12)):
        table = app.query_one(VirtualTable)
        table.empty_text = "No jobs yet."
        assert "No jobs yet." in table.rendered_line_text(1)
        assert table.cursor_key is None
