"""Modal dialogs: confirm (yes/no), details (label/value pairs), and a secret shown once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """Ask before something that cannot be undone; `y`/enter confirms, `n`/escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, question: str, *, confirm_label: str = "Delete", danger: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.confirm_label = confirm_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm", classes="dialog"):
            yield Label(self.question, id="confirm-question")
            with Horizontal(classes="buttons"):
                yield Button(
                    f"{self.confirm_label} (y)", id="confirm-yes", variant="error" if self.danger else "primary"
                )
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class DetailsDialog(ModalScreen[None]):
    """Everything about one thing, as label/value pairs; `c` copies the `copy_text`, if there is one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_dialog", "Close"),
        Binding("enter", "dismiss_dialog", "Close", show=False),
        Binding("c", "copy", "Copy"),
    ]

    def __init__(self, title: str, rows: Sequence[tuple[str, str]], *, copy_text: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.rows = list(rows)
        self.copy_text = copy_text

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for label, value in self.rows:
            table.add_row(label, Text(value))
        with Vertical(id="details", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll():
                yield Static(table, id="details-body")
            hint = "escape closes" + (" · c copies the ping URL / key" if self.copy_text else "")
            yield Label(hint, classes="dialog-hint")

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        if self.copy_text:
            self.app.copy_to_clipboard(self.copy_text)
            self.notify("Copied to the clipboard")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy":
            return self.copy_text is not None
        return True
