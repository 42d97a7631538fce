"""Helpers for driving the console in tests: build it over a runtime, wait for effects, read its tables."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot

from tests.conftest import API_KEY
from tickstem_tui.runtime import Runtime
from tickstem_tui.tui.app import TickstemApp
from tickstem_tui.tui.widgets.virtual_table import VirtualTable, cell_text

SIZE = (120, 40)


def console_for(runtime: Runtime, **kwargs: object) -> TickstemApp:
    """The console over a running runtime, as the CLI builds it."""
    return TickstemApp(
        runtime.services,
        server_url=runtime.base_url,
        api_key=API_KEY,
        cursor_blink=False,
        **kwargs,  # type: ignore[arg-type]
    )


async def until(pilot: Pilot[None], check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until `check()` holds (effects arrive over real I/O and the bridge's batching)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await pilot.pause(0.02)


def column(table: VirtualTable, key: str, name: str) -> str:
    """Text of one cell."""
    return cell_text(table.get_cell(key, name))


def table(pilot: Pilot[None], selector: str) -> VirtualTable:
    return pilot.app.screen.query_one(selector, VirtualTable)
