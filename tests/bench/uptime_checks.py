"""Uptime poller under a burst: N monitors due at once, for several concurrency bounds; are timings honest?

Each check opens a fresh connection (as the poller does). The target is a no-op server in its own process,
so every check should take about the same small time; a reported time far above that is the checker's own
queueing or a saturated event loop, not the target.

Run: python -m tests.bench.uptime_checks [--monitors 2000] [--bounds 25,100,1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench._common import NoopTarget, print_table, write_json
from tests.bench.http_clients import free_port
from tickstem_tui.clock import SystemClock
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import CheckRecorded, Event
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.monitors import Monitor, MonitorSpec, MonitorStatus
from tickstem_tui.runtime import Runtime
from tickstem_tui.store.monitors import save_monitor


async def burst(url: str, monitors: int, bound: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(port=0, db_path=Path(folder) / "bench.sqlite3", poller_concurrency=bound)
        async with Runtime(settings, clock=SystemClock(), serve_http=False) as runtime:
            now = runtime.clock.now()
            batch = [
                Monitor(
                    new_id("mon"),
                    runtime.services.accounts.owner_id,
                    MonitorSpec(f"m{i}", url, interval_secs=3600),
                    MonitorStatus.ACTIVE,
                    0,
                    None,
                    now,
                    None,
                    None,
                    now,
                    now,
                )
                for i in range(monitors)
            ]

            async def store(conn: Any) -> None:
                for monitor in batch:
                    await save_monitor(conn, monitor)

            await runtime.db.write(store)
            seen: list[CheckRecorded] = []
            done = asyncio.Event()

            def collect(event: Event) -> None:
                if isinstance(event, CheckRecorded):
                    seen.append(event)
                    if len(seen) == monitors:
                        done.set()

            runtime.bus.subscribe(collect)
            started = time.perf_counter()
            await runtime.poller.load()
            await asyncio.wait_for(done.wait(), 300)
            elapsed = time.perf_counter() - started
    durations = sorted(e.duration_ms for e in seen)
    return {
        "bound": bound,
        "checks_per_s": monitors / elapsed,
        "median_ms": statistics.median(durations),
        "p95_ms": durations[int(len(durations) * 0.95) - 1],
        "max_ms": durations[-1],
        "not_up": sum(e.status != "up" for e in seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--monitors", type=int, default=2000)
    parser.add_argument("--bounds", default="25,100,1000")
    parser.add_argument("--json")
    args = parser.parse_args()
    target = NoopTarget(free_port())
    try:
        results = [asyncio.run(burst(target.url, args.monitors, int(b))) for b in args.bounds.split(",")]
    finally:
        target.close()
    print_table(
        f"Uptime burst: {args.monitors} monitors due at once, fresh connection per check",
        ["poller_concurrency", "checks/s", "median ms", "p95 ms", "max ms", "not up"],
        [[r["bound"], r["checks_per_s"], r["median_ms"], r["p95_ms"], r["max_ms"], r["not_up"]] for r in results],
    )
    write_json(args.json, {"monitors": args.monitors, "results": results})


if __name__ == "__main__":
    main()
