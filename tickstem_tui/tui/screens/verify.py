"""Verify: type an address, see the four checks (syntax, MX, disposable, role-based); the history below."""

from __future__ import annotations

import logging
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widgets import Input, Static

from tickstem_tui.domain.errors import DomainError
from tickstem_tui.domain.verification import Verification
from tickstem_tui.tui import format as fmt
from tickstem_tui.tui.screens.base import HISTORY_PAGE, ConsoleScreen
from tickstem_tui.tui.widgets.forms import steady_input
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, Styled, VirtualTable

log = logging.getLogger(__name__)


def yes_no(flag: bool, good: bool, bad_tone: str = "bad") -> Cell:
    """A flag cell, coloured by whether this value is the good one."""
    return Styled("yes" if flag else "no", "ok" if flag == good else bad_tone)


def checks_content(item: Verification) -> Content:
    """The four checks as lines of ✔/✖ with a word on each, then the verdict."""
    syntax_ok = bool(item.domain)
    rows = [
        (syntax_ok, "Syntax", "well-formed address" if syntax_ok else "not a valid address"),
        (
            item.mx_found,
            "MX records",
            f"{item.domain} accepts mail" if item.mx_found else "no mail server found" if syntax_ok else "not checked",
        ),
        (
            not item.disposable,
            "Disposable",
            "a disposable (throwaway) domain" if item.disposable else "not a disposable domain",
        ),
        (
            not item.role_based,
            "Role-based",
            "a role address (info@, support@ …)" if item.role_based else "a person's address",
        ),
    ]
    lines = [Content.from_markup(" [b]$email[/b]", email=item.email)]
    for ok, label, words in rows:
        mark = "[$success]✔[/]" if ok else ("[$warning]![/]" if label == "Role-based" else "[$error]✖[/]")
        lines.append(Content.from_markup(f"  {mark} $label  $words", label=label.ljust(11), words=words))
    verdict = "[b $success]valid[/]" if item.valid else "[b $error]not valid[/]"
    reason = f" — {item.reason}" if item.reason else ""
    lines.append(Content.from_markup(f"  Verdict: {verdict}$reason", reason=reason))
    return Content("\n").join(lines)


class VerifyScreen(ConsoleScreen):
    MODE = "verify"
    FILTER_TABLE = "#history"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "focus_address", "Verify an address"),
        Binding("left_square_bracket", "newer", "Newer history", show=False),
        Binding("right_square_bracket", "older", "Older history", show=False),
    ]
    COLUMNS = (
        Column("when", "Checked (UTC)", width=19),
        Column("email", "Email", max_width=36),
        Column("valid", "Valid", min_width=5),
        Column("mx", "MX", min_width=3),
        Column("disposable", "Disposable", min_width=10),
        Column("role", "Role", min_width=4),
        Column("reason", "Reason", max_width=60),
    )

    def __init__(self) -> None:
        super().__init__()
        self.history_offset = 0
        self._records: dict[str, Verification] = {}

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static(
            " Email address [dim](enter verifies · escape leaves the box · v comes back)[/]", classes="pane-title"
        )
        yield steady_input(self.console.cursor_blink, id="address", placeholder="someone@example.com")
        yield Static(" Type an address and press enter.", id="result")
        yield Static(" History", id="history-title", classes="pane-title")
        yield VirtualTable(self.COLUMNS, id="history", empty_text="Nothing verified yet.")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        self.query_one("#address", Input).focus()
        self.load_history()

    def action_focus_address(self) -> None:
        self.query_one("#address", Input).focus()

    @on(Input.Submitted, "#address")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        address = event.value.strip()
        if address:
            self.query_one("#result", Static).update(Content.from_markup(" Checking [b]$a[/b] …", a=address))
            self.verify(address)

    @work(group="verify", exclusive=True, exit_on_error=False)
    async def verify(self, address: str) -> None:
        result = self.query_one("#result", Static)
        try:
            # The owner's own console is unmetered, like the CLI; the monthly quota is for API callers.
            item = await self.services.verifier.verify(self.account_id, address, metered=False)
        except DomainError as exc:
            result.update(Content.from_markup(" [$error]✖[/] $m", m=exc.message))
            return
        except Exception as exc:
            log.exception("verifying %r failed", address)
            result.update(Content.from_markup(" [$error]✖[/] could not verify: $m", m=str(exc)))
            return
        result.update(checks_content(item))
        self.history_offset = 0
        self.load_history()

    @work(group="history", exclusive=True, exit_on_error=False)
    async def load_history(self) -> None:
        table = self.query_one("#history", VirtualTable)
        try:
            records = await self.services.verifier.history(self.account_id, HISTORY_PAGE, self.history_offset)
        except Exception as exc:
            table.empty_text = f"History unavailable: {exc}"
            table.clear()
            return
        self._records = {record.id: record for record in records}
        table.empty_text = "Nothing verified yet." if self.history_offset == 0 else "No older entries."
        table.set_rows((record.id, self.cells(record)) for record in records)
        page = self.history_offset // HISTORY_PAGE + 1
        self.query_one("#history-title", Static).update(
            Content.from_markup(" History  [dim]page $p · ] older · \\[ newer · enter shows the checks[/]", p=str(page))
        )

    def cells(self, item: Verification) -> list[Cell]:
        return [
            fmt.clock(item.created_at),
            item.email,
            Styled("valid" if item.valid else "invalid", fmt.tone("valid" if item.valid else "invalid")),
            yes_no(item.mx_found, True),
            yes_no(item.disposable, False),
            yes_no(item.role_based, False, "warn"),  # role addresses are valid, just worth knowing
            fmt.one_line(item.reason),
        ]

    @on(VirtualTable.Selected, "#history")
    def _selected(self, event: VirtualTable.Selected) -> None:
        event.stop()
        record = self._records.get(event.key)
        if record is not None:
            self.query_one("#result", Static).update(checks_content(record))

    def action_older(self) -> None:
        if len(self._records) >= HISTORY_PAGE:
            self.history_offset += HISTORY_PAGE
            self.load_history()

    def action_newer(self) -> None:
        if self.history_offset > 0:
            self.history_offset = max(0, self.history_offset - HISTORY_PAGE)
            self.load_history()
