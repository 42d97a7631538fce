"""Uptime poller: 1,000 monitors every 30 s (CPU, interval jitter, response-time distortion) and its peak rate.

The runtime runs in this process on the system clock; the monitored URL is tests/bench/_target.py in another
process (a 200 to everything). Each check opens a fresh connection, as the poller does for every check.
- steady: 1,000 monitors at 30 s, their first checks spread evenly over the interval, product defaults
  (poller_concurrency 20). Figures over a window after a warm-up: CPU share of one core (the whole process),
  interval jitter (time between consecutive checks of one monitor minus 30 s), and the check durations the
  poller reports against a single-check baseline (the same `Poller.probe()`, one at a time, same run);
- peak: N monitors due at once with poller_concurrency 1,000 (checks/s until all are recorded) against the bare
  aiohttp client sending the same requests (fresh connection each, `Connection: close`) with 1,000 in flight.

Run: python -m tests.bench.poller [--quick] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import aiosqlite

from tests.bench._common import (
    SMOKE,
    LocalTarget,
    Targets,
    bench_arguments,
    full_or_smoke,
    median,
    percentile,
    print_table,
    raw_client_seconds,
    write_json,
)
from tickstem_tui import heap
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import CheckRecorded, Event
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.monitors import Monitor, MonitorSpec, MonitorStatus
from tickstem_tui.runtime import Runtime
from tickstem_tui.services.poller import CHECK_HEADERS
from tickstem_tui.store.monitors import save_monitor

MONITORS = full_or_smoke(1_000, 50)
INTERVAL = full_or_smoke(30, 2)
IN_FLIGHT = full_or_smoke(1_000, 50)


async def add_monitors(runtime: Runtime, url: str, count: int, interval: int, first: datetime, spread: float) -> None:
    owner = runtime.services.accounts.owner_id
    now = runtime.clock.now()
    batch = [
        Monitor(
            new_id("mon"),
            owner,
            MonitorSpec(f"bench-{n}", url, interval_secs=interval),
            MonitorStatus.ACTIVE,
            0,
            None,
            first + timedelta(seconds=n * spread / count),
            None,
            None,
            now,
            now,
        )
        for n in range(count)
    ]

    async def store(conn: aiosqlite.Connection) -> None:
        for monitor in batch:
            await save_monitor(conn, monitor)

    await runtime.db.write(store)


class Checks:
    def __init__(self) -> None:
        self.events: list[tuple[float, CheckRecorded]] = []
        self.done = asyncio.Event()
        self.expect = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, CheckRecorded):
            self.events.append((time.perf_counter(), event))
            if self.expect and len(self.events) >= self.expect:
                self.done.set()


async def single_check_baseline(runtime: Runtime, url: str, count: int) -> list[int]:
    """The poller's own probe, one check at a time with nothing else running."""
    now = runtime.clock.now()
    monitor = Monitor(
        "mon_baseline",
        "acct",
        MonitorSpec("baseline", url, INTERVAL),
        MonitorStatus.ACTIVE,
        0,
        None,
        None,
        None,
        None,
        now,
        now,
    )
    durations = []
    for _ in range(count):
        check = await runtime.poller.probe(monitor)
        durations.append(check.duration_ms)
    return durations


async def steady(db_path: Path, url: str, warmup: float, window: float) -> dict[str, Any]:
    settings = Settings(port=0, db_path=db_path, desktop_notifications=False)
    async with Runtime(settings, serve_http=False) as runtime:
        baseline = await single_check_baseline(runtime, url, full_or_smoke(200, 20))
        checks = Checks()
        runtime.bus.subscribe(checks)
        first = runtime.clock.now() + timedelta(seconds=1)
        await add_monitors(runtime, url, MONITORS, INTERVAL, first, INTERVAL)
        heap.settle()  # what `tickstem-tui serve` does once started
        await runtime.poller.load()
        await asyncio.sleep(1 + warmup)
        mark = len(checks.events)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(window)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        in_window = checks.events[mark:]
        await runtime.poller.shutdown()
    by_monitor: dict[str, list[datetime]] = {}
    for _, event in checks.events:
        by_monitor.setdefault(event.monitor_id, []).append(event.at)
    jitter = [
        abs((b - a).total_seconds() - INTERVAL) * 1000
        for times in by_monitor.values()
        for a, b in itertools.pairwise(times)
    ]
    durations = [event.duration_ms for _, event in in_window]
    return {
        "cpu_share": cpu,
        "checks_in_window": len(in_window),
        "checks_per_sec": len(in_window) / window,
        "not_up": sum(event.status != "up" for _, event in in_window),
        "jitter_ms": {"p50": percentile(jitter, 50), "p99": percentile(jitter, 99), "max": max(jitter, default=0)},
        "jitter_pairs": len(jitter),
        "lateness_ms_p99": percentile(runtime.poller.lateness_ms, 99),
        # Check times are whole milliseconds (as stored); the means resolve the distortion below 1 ms.
        "duration_ms": {"p50": percentile(durations, 50), "p99": percentile(durations, 99), "mean": mean(durations)},
        "baseline_duration_ms": {
            "p50": percentile(baseline, 50),
            "p99": percentile(baseline, 99),
            "mean": mean(baseline),
        },
    }


async def peak(db_path: Path, url: str, count: int) -> dict[str, Any]:
    settings = Settings(port=0, db_path=db_path, desktop_notifications=False, poller_concurrency=IN_FLIGHT)
    async with Runtime(settings, serve_http=False) as runtime:
        checks = Checks()
        checks.expect = count
        runtime.bus.subscribe(checks)
        await add_monitors(runtime, url, count, 3600, runtime.clock.now(), 0)
        heap.settle()
        started = time.perf_counter()
        await runtime.poller.load()
        await asyncio.wait_for(checks.done.wait(), 600)
        elapsed = time.perf_counter() - started
        durations = [event.duration_ms for _, event in checks.events]
    return {
        "checks_per_sec": count / elapsed,
        "duration_ms": {"p50": percentile(durations, 50), "p99": percentile(durations, 99)},
        "not_up": sum(event.status != "up" for _, event in checks.events),
    }


def main() -> None:
    parser = bench_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    runs = args.runs or (1 if SMOKE else 3)
    burst = 200 if SMOKE else 2_000 if args.quick else 5_000
    warmup, window = (1.0, 3.0) if SMOKE else (5.0, 35.0) if args.quick else (30.0, 90.0)
    target = LocalTarget()
    peaks: list[dict[str, Any]] = []
    raw_close: list[float] = []
    raw_keepalive: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-poller-") as tmp:
            for run in range(runs):
                raw_close.append(
                    burst / asyncio.run(raw_client_seconds(target.url, burst, IN_FLIGHT, headers=CHECK_HEADERS))
                )
                raw_keepalive.append(burst / asyncio.run(raw_client_seconds(target.url, burst, IN_FLIGHT)))
                peaks.append(asyncio.run(peak(Path(tmp) / f"peak-{run}.sqlite3", target.url, burst)))
                print(f"  peak run {run + 1}/{runs} done", file=sys.stderr, flush=True)
            result = asyncio.run(steady(Path(tmp) / "steady.sqlite3", target.url, warmup, window))
    finally:
        target.close()

    poller_rate = median([p["checks_per_sec"] for p in peaks])
    ratio = median([p["checks_per_sec"] / r for p, r in zip(peaks, raw_close, strict=True)])
    print_table(
        f"Peak: {burst:,} checks due at once, {IN_FLIGHT:,} in flight, median of {runs} runs",
        ["client", "req/s", "vs bare client", "p50 ms", "p99 ms", "not up"],
        [
            ["bare aiohttp, fresh connection each (baseline)", median(raw_close), "1.00x", "", "", ""],
            [
                "poller (check, record, publish)",
                poller_rate,
                f"{ratio:.2f}x",
                median([p["duration_ms"]["p50"] for p in peaks]),
                median([p["duration_ms"]["p99"] for p in peaks]),
                sum(p["not_up"] for p in peaks),
            ],
            ["bare aiohttp, keep-alive (for context)", median(raw_keepalive), "", "", "", ""],
        ],
    )
    distortion = result["duration_ms"]["mean"] / result["baseline_duration_ms"]["mean"]
    print_table(
        f"Steady: {MONITORS:,} monitors every {INTERVAL} s, defaults, {window:g} s window after {warmup:g} s",
        ["figure", "value"],
        [
            ["CPU, share of one core (whole process)", f"{result['cpu_share'] * 100:.1f}%"],
            ["checks per second", result["checks_per_sec"]],
            ["interval jitter p50 / p99 / max (ms)", [result["jitter_ms"][k] for k in ("p50", "p99", "max")]],
            ["reported check time mean / p50 / p99 (ms)", [result["duration_ms"][k] for k in ("mean", "p50", "p99")]],
            [
                "single-check baseline mean / p50 / p99 (ms)",
                [result["baseline_duration_ms"][k] for k in ("mean", "p50", "p99")],
            ],
            ["distortion of the mean check time", f"{distortion:.2f}x"],
            ["checks not up", result["not_up"]],
        ],
    )
    targets = Targets()
    targets.check("poller rate vs bare client, 1,000 in flight", ratio, ">=", 0.8, "x")
    targets.check("CPU for 1,000 monitors at 30 s", result["cpu_share"] * 100, "<", 25, "% of a core")
    targets.check("interval jitter p99", result["jitter_ms"]["p99"], "<=", 1000, "ms")
    targets.print()
    write_json(
        args.json,
        {
            "benchmark": "poller",
            "burst": burst,
            "peak": peaks,
            "raw_close_rps": raw_close,
            "raw_keepalive_rps": raw_keepalive,
            "ratio_vs_raw": ratio,
            "steady": result,
            "targets": targets.rows,
        },
    )


if __name__ == "__main__":
    main()
