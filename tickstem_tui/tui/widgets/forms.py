"""Create/edit forms as modal screens: fields in, a request body out, the service's own errors shown inline.

Forms hold no rules: they turn what was typed into the same body the HTTP API accepts and hand it to a
service call; a `DomainError` from that call is shown under the fields and the form stays open.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from tickstem_tui.domain.errors import DomainError, ValidationError
from tickstem_tui.domain.schedule import Schedule
from tickstem_tui.tui import format as fmt

log = logging.getLogger(__name__)

Submit = Callable[[dict[str, str]], Awaitable[str | None]]
"""Takes the raw field values; returns a message for a toast, or raises DomainError to keep the form open."""


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    value: str = ""
    placeholder: str = ""
    kind: Literal["input", "select", "area"] = "input"
    options: tuple[tuple[str, str], ...] = ()
    """(label, value) pairs of a select."""
    hint: str = ""


class FormScreen(ModalScreen[bool]):
    """A titled column of fields; ctrl+s or enter in a one-line field saves, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, title: str, fields: Sequence[Field], submit: Submit, *, blink: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.fields = list(fields)
        self.submit = submit
        self.blink = blink
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="form-fields"):
                for field in self.fields:
                    with Horizontal(classes="form-row"):
                        yield Label(field.label, classes="form-label")
                        yield self._widget(field)
                    if field.hint:
                        yield Static(field.hint, classes="form-hint")
                    yield from self.compose_after(field)
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Save (ctrl+s)", id="form-save", variant="primary")
                yield Button("Cancel (esc)", id="form-cancel")

    def compose_after(self, field: Field) -> ComposeResult:
        """Extra widgets under a field (the job form's cron preview)."""
        yield from ()

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#field-{self.fields[0].key}").focus()

    def _widget(self, field: Field) -> Input | Select[str] | TextArea:
        ident = f"field-{field.key}"
        if field.kind == "select":
            return Select(
                list(field.options), value=field.value, allow_blank=False, id=ident, compact=True, classes="form-input"
            )
        if field.kind == "area":
            area = TextArea(field.value, id=ident, compact=True, classes="form-input form-area", soft_wrap=True)
            area.set_reactive(TextArea.cursor_blink, self.blink)
            return area
        return steady_input(
            self.blink,
            field.value,
            placeholder=field.placeholder,
            id=ident,
            compact=True,
            classes="form-input",
            select_on_focus=False,
        )

    def values(self) -> dict[str, str]:
        """What is in each field now, as typed."""
        result: dict[str, str] = {}
        for field in self.fields:
            widget = self.query_one(f"#field-{field.key}")
            if isinstance(widget, Input):
                result[field.key] = widget.value
            elif isinstance(widget, TextArea):
                result[field.key] = widget.text
            elif isinstance(widget, Select):
                result[field.key] = "" if widget.value is Select.BLANK else str(widget.value)
        return result

    def show_error(self, message: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(message)
        error.set_class(bool(message), "visible")

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_save(self) -> None:
        if not self.saving:
            self.saving = True
            self._save()

    @work(group="form", exit_on_error=False)
    async def _save(self) -> None:
        try:
            message = await self.submit(self.values())
        except DomainError as exc:
            self.show_error(exc.message)
            return
        except Exception as exc:
            log.exception("saving %s failed", self.title_text)
            self.show_error(f"Could not save: {exc}")
            return
        finally:
            self.saving = False
        if message:
            self.notify(message)
        self.dismiss(True)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#form-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(False)


class JobForm(FormScreen):
    """The job form, with the schedule explained and its next five runs listed as you type."""

    def __init__(
        self, title: str, fields: Sequence[Field], submit: Submit, *, now: Callable[[], datetime], blink: bool = True
    ) -> None:
        super().__init__(title, fields, submit, blink=blink)
        self.now = now

    def compose_after(self, field: Field) -> ComposeResult:
        if field.key == "schedule":
            yield Static(self.preview(field.value), id="cron-preview")

    def preview(self, expression: str) -> str:
        """The schedule in words and its next five runs (UTC), or why the expression is not valid."""
        if not expression.strip():
            return "Five fields: minute hour day-of-month month day-of-week (UTC), e.g. 0 2 * * 1-5"
        try:
            schedule = Schedule(expression)
        except ValidationError as exc:
            return f"✖ {exc.message}"
        runs = "\n".join(f"  {line}" for line in fmt.next_runs(schedule.expression, self.now()))
        return f"{schedule.describe()} (UTC). Next five runs:\n{runs}"

    @on(Input.Changed, "#field-schedule")
    def _schedule_changed(self, event: Input.Changed) -> None:
        self.query_one("#cron-preview", Static).update(self.preview(event.value))


def steady_input(blink: bool, value: str = "", **kwargs: Any) -> Input:
    """An Input whose cursor blinks only when `blink` (screenshots and snapshots want it still)."""
    widget = Input(value, **kwargs)
    widget.set_reactive(Input.cursor_blink, blink)
    return widget


# -- turning typed text into request bodies ------------------------------------------------------------
def number_or_text(text: str) -> int | str:
    """Digits become an int; anything else goes through as typed so the service names the problem."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    return stripped


def optional_number(text: str) -> int | str | None:
    return None if not text.strip() else number_or_text(text)


def parse_headers(text: str) -> dict[str, str]:
    """`Name: value` per line (blank lines skipped)."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValidationError(f"headers line {number}: write it as Name: value")
        headers[name.strip()] = value.strip()
    return headers


def format_headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


def parse_assertions(text: str) -> list[dict[str, Any]]:
    """`source comparison target` per line, e.g. `status_code eq 200` or `body contains ok`."""
    assertions: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(None, 2)
        if len(parts) < 3:
            raise ValidationError(f"assertions line {number}: write it as source comparison target")
        source, comparison, target = parts
        assertions.append({"source": source, "comparison": comparison, "target": target})
    return assertions


def format_assertions(assertions: Sequence[Any]) -> str:
    return "\n".join(f"{a.source.value} {a.comparison.value} {a.target}" for a in assertions)
