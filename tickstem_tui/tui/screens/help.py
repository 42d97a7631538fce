"""Help: every key binding of the console, read from the classes that declare them so it never goes stale."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label

from tickstem_tui.tui.widgets.keybar import KEY_NAMES
from tickstem_tui.tui.widgets.virtual_table import Column, VirtualTable

HELP_KEY_NAMES = {**KEY_NAMES, "enter": "enter"}


def key_label(binding: Binding) -> str:
    return ", ".join(HELP_KEY_NAMES.get(key, key) for key in binding.key.split(","))


def bindings_of(node_class: type[DOMNode]) -> list[Binding]:
    """The bindings a class declares itself (not inherited), as Binding objects."""
    found: list[Binding] = []
    for item in node_class.__dict__.get("BINDINGS", []):
        found.extend(Binding.make_bindings([item]))
    return found


def binding_rows(sections: Sequence[tuple[str, Iterable[type[DOMNode]]]]) -> list[tuple[str, str, str]]:
    """(where, keys, what) for every binding of every class, in section order, without duplicates."""
    rows: list[tuple[str, str, str]] = []
    for where, classes in sections:
        seen: set[tuple[str, str]] = set()
        for node_class in classes:
            for binding in bindings_of(node_class):
                entry = (key_label(binding), binding.description or binding.action)
                if entry not in seen:
                    seen.add(entry)
                    rows.append((where, *entry))
    return rows


class HelpScreen(ModalScreen[None]):
    """A scrollable table of every binding: everywhere, per screen, in tables, in dialogs."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, sections: Sequence[tuple[str, Iterable[type[DOMNode]]]]) -> None:
        super().__init__(classes="dialog-screen")
        self.rows = binding_rows(sections)

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield VirtualTable(
                (
                    Column("where", "Where", max_width=16),
                    Column("keys", "Key", max_width=16),
                    Column("what", "Does", max_width=40),
                ),
                id="help-table",
            )
            yield Label("escape closes · ctrl+p opens the command palette", classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one(VirtualTable)
        table.set_rows((str(n), list(row)) for n, row in enumerate(self.rows))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def app_sections(
    app_class: type[App[Any]], screens: Sequence[tuple[str, type[DOMNode]]]
) -> list[tuple[str, list[type[DOMNode]]]]:
    """Help sections for the console: the app, each screen (with its bases), tables and dialogs."""
    from tickstem_tui.tui.screens.base import ConsoleScreen, EntityScreen
    from tickstem_tui.tui.widgets.dialogs import ConfirmDialog, DetailsDialog
    from tickstem_tui.tui.widgets.forms import FormScreen

    # The app's own bindings may sit on a base class (the sample console subclasses the console); Textual's
    # App and Screen add the palette, quit and focus keys.
    everywhere: list[type[DOMNode]] = [cls for cls in app_class.__mro__ if "BINDINGS" in cls.__dict__]
    sections: list[tuple[str, list[type[DOMNode]]]] = [("Everywhere", [*everywhere, Screen, ConsoleScreen])]
    for title, screen_class in screens:
        own = [screen_class]
        if issubclass(screen_class, EntityScreen):
            own.append(EntityScreen)
        sections.append((title, own))
    sections.append(("Tables", [VirtualTable]))
    sections.append(("Forms", [FormScreen]))
    sections.append(("Dialogs", [ConfirmDialog, DetailsDialog, HelpScreen]))
    return sections
