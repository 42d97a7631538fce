"""Console speed, each figure against a baseline in the same run.

1. A 10,000-row table: first paint and 1,000 cell updates, our windowed VirtualTable vs Textual's DataTable.
2. The console over 1,000 jobs, 1,000 monitors, 200 heartbeats and 100,000 history rows: key press to screen
   settled (switch screen, move the cursor with its history pane reloading, filter), a burst of 1,000 live
   updates from the bus until every row shows it, and key latency while updates stream in.

"Settled" means the state the key asks for is reached (rows, history page) and the frame is rendered.
Run: python -m tests.bench.tui [--runs 5] [--samples 25] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.bench._common import Targets, full_or_smoke, median, percentile, print_table, write_json
from tickstem_tui.clock import FakeClock
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import ExecutionFinished
from tickstem_tui.domain.times import to_ms
from tickstem_tui.runtime import Runtime
from tickstem_tui.showcase import NOW, seed_bulk
from tickstem_tui.store.accounts import OWNER_ACCOUNT_ID
from tickstem_tui.tui.app import TickstemApp
from tickstem_tui.tui.screens.base import EntityScreen
from tickstem_tui.tui.screens.jobs import JobsScreen
from tickstem_tui.tui.widgets.virtual_table import Cell, Column, Styled, VirtualTable, cell_text

SIZE = (120, 40)
ROWS = full_or_smoke(10_000, 2_000)
UPDATES = 1_000
SMOKE_ACCOUNT = {"jobs": 120, "monitors": 120, "heartbeats": 20, "history": 3_000}
"""The console's account in a smoke run (the full one: 1,000 jobs and monitors, 100,000 history rows)."""
COLUMNS = (
    Column("name", "Name"),
    Column("schedule", "Schedule"),
    Column("cron", "Cron"),
    Column("next", "Next run"),
    Column("last", "Last run"),
    Column("duration", "Duration", align="right"),
    Column("status", "Status"),
)
KEY_MEASUREMENTS = ("switch", "cursor", "filter")
"""Console measurements held to the key-to-screen target."""
TARGETS = {
    "first paint, 10,000 rows": 0.25,
    "1,000 cell updates": 0.100,
    "key to screen": 0.050,
}


def table_rows(count: int) -> list[tuple[str, list[Cell]]]:
    return [
        (
            f"job_{n:05d}",
            [
                f"job-{n:05d}",
                "At 02:00 on Monday through Friday",
                "0 2 * * 1-5",
                "in 3m 10s",
                Styled("success 4m ago", "ok"),
                f"{n % 900} ms",
                Styled("active", "ok"),
            ],
        )
        for n in range(count)
    ]


class TableApp(App[None]):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def compose(self) -> ComposeResult:
        yield VirtualTable(COLUMNS) if self.kind == "virtual" else DataTable()


async def render(pilot: Pilot[None]) -> None:
    """Process what is queued, then draw the frame now (what Textual's refresh timer would do next)."""
    await pilot._wait_for_screen()
    pilot.app.screen._on_timer_update()


async def table_run(kind: str, rows: list[tuple[str, list[Cell]]]) -> tuple[float, float]:
    """(first paint, 1,000 updates) seconds for one widget in a fresh app."""
    app = TableApp(kind)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        started = time.perf_counter()
        if kind == "virtual":
            virtual = app.query_one(VirtualTable)
            virtual.set_rows(rows)
        else:
            stock = app.query_one(DataTable)
            for column in COLUMNS:
                stock.add_column(column.label, key=column.key)
            stock.add_rows(([c if isinstance(c, str) else c.text for c in cells] for _, cells in rows))
        await render(pilot)
        await render(pilot)  # DataTable measures widths on idle; the second pass draws them
        paint = time.perf_counter() - started

        rnd = random.Random(7)
        picks = rnd.sample(range(len(rows)), UPDATES)
        if kind == "stock":
            row_keys = list(stock.rows)
        started = time.perf_counter()
        for n, index in enumerate(picks):
            if kind == "virtual":
                virtual.update_cell(rows[index][0], "duration", f"{n} ms")
            else:
                stock.update_cell(row_keys[index], "duration", f"{n} ms")
        await render(pilot)
        await render(pilot)
        updates = time.perf_counter() - started
    return paint, updates


# -- the console over a large account -------------------------------------------------------------------
async def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("the console never settled")
        await asyncio.sleep(0.0005)


async def key_to_screen(
    app: TickstemApp, pilot: Pilot[None], key: str, character: str | None, ready: Callable[[], bool]
) -> float:
    """Deliver a key as the terminal driver does, wait for the state it asks for, draw; seconds."""
    started = time.perf_counter()
    app.post_message(events.Key(key, character))
    await until(ready)
    await render(pilot)
    return time.perf_counter() - started


def history_ready(app: TickstemApp, entity_id: str) -> Callable[[], bool]:
    def check() -> bool:
        screen = app.screen
        if not isinstance(screen, EntityScreen) or screen.selected != entity_id or not screen._history:
            return False
        record = next(iter(screen._history.values()))
        owner = (
            getattr(record, "job_id", None)
            or getattr(record, "monitor_id", None)
            or getattr(record, "heartbeat_id", None)
        )
        return bool(owner == entity_id)

    return check


async def console_run(samples: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory(prefix="tickstem-bench-") as folder:
        settings = Settings(port=0, db_path=Path(folder) / "bench.sqlite3", desktop_notifications=False)
        async with Runtime(settings, clock=FakeClock(NOW), serve_http=False) as runtime:
            started = time.perf_counter()
            await seed_bulk(runtime.db, NOW, **full_or_smoke({}, SMOKE_ACCOUNT))
            seeded = time.perf_counter() - started
            app = TickstemApp(runtime.services, server_url="http://127.0.0.1:8090", cursor_blink=False)
            async with app.run_test(size=SIZE) as pilot:
                started = time.perf_counter()
                await until(lambda: app.model.loaded)
                add("console start: model loaded", time.perf_counter() - started)
                await until(lambda: app.screens_prepared)
                add("console start: every screen built", time.perf_counter() - started)
                await render(pilot)

                # Screen switches: the first visit shows a screen built behind the first one (its first
                # sync and paint), later ones only diff the model.
                jobs_ids = list(app.model.jobs)
                monitor_ids = list(app.model.monitors)
                heartbeat_ids = list(app.model.heartbeats)
                for key, mode, first in (
                    ("2", "jobs", jobs_ids[0]),
                    ("3", "monitors", monitor_ids[0]),
                    ("4", "heartbeats", heartbeat_ids[0]),
                ):
                    ready = history_ready(app, first)
                    add(
                        f"switch to {mode} (first visit)",
                        await key_to_screen(
                            app, pilot, key, key, lambda r=ready, m=mode: app.current_mode == m and r()
                        ),
                    )
                for n in range(samples):
                    key, mode = ("2", "jobs") if n % 2 == 0 else ("3", "monitors")
                    add(
                        "switch screen",
                        await key_to_screen(
                            app,
                            pilot,
                            key,
                            key,
                            lambda m=mode: (
                                app.current_mode == m
                                and isinstance(app.screen, EntityScreen)
                                and app.screen.main.row_count > 0
                            ),
                        ),
                    )

                # Cursor moves: the history pane of the new row loads (a page of 50 from 100,000 rows).
                for mode, key, ids in (("jobs", "2", jobs_ids), ("monitors", "3", monitor_ids)):
                    await key_to_screen(app, pilot, key, key, lambda m=mode: app.current_mode == m)
                    screen = app.screen
                    assert isinstance(screen, EntityScreen)
                    screen.main.move_cursor(0)
                    await until(history_ready(app, ids[0]))
                    for n in range(1, samples + 1):
                        add(
                            f"cursor down, {mode} (history reloads)",
                            await key_to_screen(app, pilot, "down", None, history_ready(app, ids[n])),
                        )

                # Filter: "/" opens the box, each keystroke narrows the 1,000 jobs.
                await key_to_screen(app, pilot, "2", "2", lambda: app.current_mode == "jobs")
                jobs_screen = app.screen
                assert isinstance(jobs_screen, JobsScreen)
                table = jobs_screen.main
                add(
                    "filter: open (/)",
                    await key_to_screen(app, pilot, "slash", "/", lambda: jobs_screen.query_one("#filter").has_focus),
                )
                typed = ""
                for char in "job-0099"[: max(2, min(8, samples))]:
                    typed += char
                    add(
                        "filter: keystroke",
                        await key_to_screen(
                            app,
                            pilot,
                            char if char.isalnum() else "minus",
                            char,
                            lambda t=typed: table.filter_text == t and table.row_count >= 0,
                        ),
                    )
                await key_to_screen(app, pilot, "escape", None, lambda: table.filter_text == "")
                table.focus()
                await render(pilot)

                # A burst: 1,000 executions committed, then 1,000 ExecutionFinished events, as the executor does.
                for round_ in range(3):
                    status = "failed" if round_ % 2 == 0 else "success"
                    add("burst of 1,000 updates shown", await burst(app, pilot, runtime, jobs_ids, status, round_))

                # Keys while updates stream in (2,500 events/s with their commits): input must not freeze.
                stop = asyncio.Event()
                streamer = asyncio.create_task(stream(runtime, jobs_ids, stop))
                try:
                    table.move_cursor(0)
                    await until(history_ready(app, jobs_ids[0]))
                    for n in range(1, samples + 1):
                        add(
                            "cursor down while 2,500 updates/s stream",
                            await key_to_screen(app, pilot, "down", None, history_ready(app, jobs_ids[n])),
                        )
                finally:
                    stop.set()
                    await streamer
            results["seed 100,000 history rows (setup)"] = [seeded]
    return results


async def write_executions(runtime: Runtime, job_ids: list[str], status: str, tag: str) -> None:
    moment = to_ms(NOW)

    async def run(conn: aiosqlite.Connection) -> None:
        await conn.executemany(
            "INSERT INTO executions (id, job_id, status, status_code, duration_ms, error, scheduled_at, triggered_at, "
            "started_at, finished_at, attempts, manual) VALUES (?, ?, ?, 500, 42, '', ?, ?, ?, ?, 1, 0)",
            [
                (f"exb_{tag}_{n}", job_id, status, moment + n, moment + n, moment + n, moment + n + 42)
                for n, job_id in enumerate(job_ids)
            ],
        )

    await runtime.db.write(run)


async def burst(
    app: TickstemApp, pilot: Pilot[None], runtime: Runtime, job_ids: list[str], status: str, round_: int
) -> float:
    await write_executions(runtime, job_ids, status, f"burst{round_}")
    table = app.screen.query_one("#main", VirtualTable)
    started = time.perf_counter()
    for n, job_id in enumerate(job_ids):
        runtime.bus.publish(ExecutionFinished(OWNER_ACCOUNT_ID, job_id, f"exb_burst{round_}_{n}", status, 500, 42))

    def shown() -> bool:
        return all(cell_text(table.get_cell(job_id, "last")).startswith(status) for job_id in job_ids)

    await until(shown)
    await render(pilot)
    return time.perf_counter() - started


async def stream(runtime: Runtime, job_ids: list[str], stop: asyncio.Event) -> None:
    """50 executions every 20 ms, each committed and announced."""
    rnd = random.Random(3)
    tick = 0
    while not stop.is_set():
        picked = rnd.sample(job_ids, 50)
        await write_executions(runtime, picked, "success", f"s{tick}")
        for n, job_id in enumerate(picked):
            runtime.bus.publish(ExecutionFinished(OWNER_ACCOUNT_ID, job_id, f"exb_s{tick}_{n}", "success", 200, 42))
        tick += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    rows = table_rows(ROWS)
    paint: dict[str, list[float]] = {"virtual": [], "stock": []}
    updates: dict[str, list[float]] = {"virtual": [], "stock": []}
    for _ in range(args.runs):
        for kind in ("virtual", "stock"):
            first, changed = await table_run(kind, rows)
            paint[kind].append(first)
            updates[kind].append(changed)
    console = await console_run(args.samples)

    table_lines = []
    for name, series in (("first paint, 10,000 rows", paint), ("1,000 cell updates", updates)):
        ours, stock = median(series["virtual"]), median(series["stock"])
        target = TARGETS[name]
        table_lines.append(
            [
                name,
                ours * 1000,
                stock * 1000,
                f"{stock / ours:.1f}x faster",
                f"≤ {target * 1000:.0f} ms",
                "yes" if ours <= target else "NO",
            ]
        )
    print_table(
        f"Tables ({args.runs} runs, medians, ms): VirtualTable vs Textual DataTable in the same run",
        ["measurement", "VirtualTable", "DataTable", "ratio", "target", "met"],
        table_lines,
    )
    console_lines = []
    for name, values in console.items():
        target = TARGETS["key to screen"] if any(k in name for k in KEY_MEASUREMENTS) else None
        if "burst" in name:
            target = TARGETS["1,000 cell updates"]
        p95 = percentile(values, 95)
        met = "" if target is None or "setup" in name else ("yes" if p95 <= target else "NO")
        console_lines.append(
            [
                name,
                len(values),
                median(values) * 1000,
                p95 * 1000,
                max(values) * 1000,
                "" if target is None else f"≤ {target * 1000:.0f}",
                met,
            ]
        )
    print_table(
        "Console with 1,000 jobs, 1,000 monitors, 200 heartbeats, 100,000 history rows (ms; target on p95)",
        ["measurement", "n", "median", "p95", "max", "target", "met"],
        console_lines,
    )
    targets = Targets()
    targets.check("10,000-row table first paint", median(paint["virtual"]) * 1000, "<=", 250, "ms")
    targets.check("1,000 cell updates", median(updates["virtual"]) * 1000, "<=", 100, "ms")
    keys = {name: percentile(v, 95) for name, v in console.items() if any(k in name for k in KEY_MEASUREMENTS)}
    slowest = max(keys, key=keys.__getitem__)
    targets.check(
        f"key to screen p95, slowest of {len(keys)} ({slowest})",
        keys[slowest] * 1000,
        "<=",
        TARGETS["key to screen"] * 1000,
        "ms",
    )
    bursts = [percentile(v, 95) for name, v in console.items() if "burst" in name]
    targets.check("burst of 1,000 updates shown p95", max(bursts) * 1000, "<=", 100, "ms")
    targets.print()
    return {
        "targets": targets.rows,
        "tables": {
            "rows": ROWS,
            "updates": UPDATES,
            "runs": args.runs,
            "first_paint_s": paint,
            "updates_s": updates,
            "first_paint_ratio": median(paint["stock"]) / median(paint["virtual"]),
            "updates_ratio": median(updates["stock"]) / median(updates["virtual"]),
        },
        "console_s": {
            name: {"median": median(v), "p95": percentile(v, 95), "max": max(v), "n": len(v), "values": v}
            for name, v in console.items()
        },
        "stdev_first_paint_virtual": statistics.pstdev(paint["virtual"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=full_or_smoke(5, 1), help="table runs per widget (default 5)")
    parser.add_argument(
        "--samples", type=int, default=full_or_smoke(25, 3), help="key presses per console measurement (default 25)"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    data = asyncio.run(main_async(args))
    write_json(args.json, data)


if __name__ == "__main__":
    main()
