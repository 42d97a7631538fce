"""Scheduler: 10,000 jobs loaded, fired all at one instant and spread over a minute, and idle CPU between minutes.

The runtime (scheduler, executor, store) runs in this process on the system clock; the jobs' endpoint is
tests/bench/_target.py in another process, which notes when each job's call arrives.
- load: 10,000 jobs with distinct schedules in the store; `Scheduler.load()` (read, parse, next fire computed,
  next runs written back) timed cold, against the floor of cronsim parsing the same 10,000 expressions;
- instant: all 10,000 placed due at the same moment; spread: placed at 10,000 evenly spaced instants over 60 s
  (`Scheduler.track()` accepts any instant; cron fires on whole minutes, so this is how a minute's worth of
  staggered load is modelled). Lateness is measured three ways: the scheduler's wake-up (`Scheduler.lateness_ms`),
  the run recorded and its call launched (ExecutionStarted on the bus), and the call's arrival at the endpoint;
- baseline: the bare aiohttp client sending 10,000 calls with 1,000 in flight to the same endpoint;
- idle: the process's CPU time over a window in which nothing is due.

Run: python -m tests.bench.scheduler [--quick] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
from cronsim import CronSim

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
from tickstem_tui.clock import SystemClock
from tickstem_tui.config import Settings
from tickstem_tui.domain.events import Event, ExecutionFinished, ExecutionStarted
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.jobs import Job, JobSpec, JobStatus
from tickstem_tui.runtime import Runtime
from tickstem_tui.services import scheduler as scheduler_module
from tickstem_tui.services.scheduler import Scheduler, next_fire
from tickstem_tui.store.database import Database
from tickstem_tui.store.jobs import JobRepository, save_job

JOBS = full_or_smoke(10_000, 200)
IN_FLIGHT = full_or_smoke(1_000, 50)
SPREAD_SECS = full_or_smoke(60.0, 2.0)


def distinct_schedules(count: int, now: datetime) -> list[str]:
    """`count` different expressions that all fire months from now (so only the placed runs happen)."""
    month = (now.month + 5) % 12 + 1
    out = []
    for n in range(count):
        minute, hour, day = n % 60, (n // 60) % 24, (n // 1440) % 28 + 1
        out.append(f"{minute} {hour} {day} {month} *")
    assert len(set(out)) == count
    return out


async def seed(db_path: Path, endpoint: str) -> list[str]:
    settings = Settings(port=0, db_path=db_path, desktop_notifications=False)
    async with Runtime(settings, serve_http=False) as runtime:
        owner = runtime.services.accounts.owner_id
        now = runtime.clock.now()
        schedules = distinct_schedules(JOBS, now)
        jobs = [
            Job(
                id=new_id("job"),
                account_id=owner,
                spec=JobSpec(name=f"bench-{n}", schedule=expr, endpoint=f"{endpoint}/hit", method="POST"),
                status=JobStatus.ACTIVE,
                consecutive_failures=0,
                next_run_at=None,  # planned below, as registering through the API does
                last_run_at=None,
                created_at=now,
                updated_at=now,
            )
            for n, expr in enumerate(schedules)
        ]
        jobs = [replace(job, next_run_at=next_fire(job, now)) for job in jobs]

        async def store(conn: aiosqlite.Connection) -> None:
            for job in jobs:
                await save_job(conn, job)

        await runtime.db.write(store)
    return schedules


async def time_load(db_path: Path) -> float:
    """A cold `Scheduler.load()` of every job in the store (each with its next run stored, as registered)."""
    scheduler_module.schedule_for.cache_clear()
    db = await Database.open(db_path)
    try:
        scheduler = Scheduler(db, JobRepository(db), None, SystemClock())  # type: ignore[arg-type]
        started = time.perf_counter()
        await scheduler.load()
        return time.perf_counter() - started
    finally:
        await db.close()


def cronsim_floor(schedules: list[str]) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    for expression in schedules:
        next(CronSim(expression, now))
    return time.perf_counter() - started


class Watch:
    """Bus listener noting when each job's run started and finished."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.failed = 0
        self.done = asyncio.Event()
        self.expect = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, ExecutionStarted):
            self.started[event.job_id] = time.time()
        elif isinstance(event, ExecutionFinished):
            self.finished[event.job_id] = time.time()
            if event.status != "success":
                self.failed += 1
            if len(self.finished) >= self.expect:
                self.done.set()

    def reset(self, expect: int) -> None:
        self.started.clear()
        self.finished.clear()
        self.failed = 0
        self.expect = expect
        self.done.clear()


def _stats(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values, default=float("nan"))}


async def fire(
    runtime: Runtime, jobs: list[Job], target: LocalTarget, watch: Watch, spread_secs: float
) -> dict[str, Any]:
    """Place every job due (at one instant, or evenly over `spread_secs`), wait for all runs, measure."""
    await asyncio.to_thread(target.reset)
    watch.reset(len(jobs))
    scheduler = runtime.scheduler
    scheduler.lateness_ms.clear()
    first = datetime.now(UTC) + timedelta(seconds=1.5)
    step = spread_secs / len(jobs)
    due = {job.id: first + timedelta(seconds=n * step) for n, job in enumerate(jobs)}
    for job in jobs:
        scheduler.track(replace(job, next_run_at=due[job.id]))
    await asyncio.wait_for(watch.done.wait(), timeout=spread_secs + 300)
    arrivals = (await asyncio.to_thread(target.stats))["arrivals"]
    due_ts = {job_id: moment.timestamp() for job_id, moment in due.items()}
    started_late = [(t - due_ts[j]) * 1000 for j, t in watch.started.items()]
    arrived_late = [(t - due_ts[j]) * 1000 for j, t in arrivals.items() if j in due_ts]
    first_ts = first.timestamp()
    last_finished = max(watch.finished.values())
    return {
        "jobs": len(jobs),
        "spread_secs": spread_secs,
        "wake_ms": _stats(list(scheduler.lateness_ms)),
        "started_ms": _stats(started_late),
        "arrived_ms": _stats(arrived_late),
        "arrived": len(arrived_late),
        "all_sent_secs": max(arrivals.values()) - first_ts if spread_secs == 0 else float("nan"),
        "recorded_per_sec": len(watch.finished) / (last_finished - first_ts) if spread_secs == 0 else float("nan"),
        "not_success": watch.failed,
    }


async def idle_cpu(seconds: float) -> float:
    """CPU seconds per wall second of this whole process (every thread) while nothing is due."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


async def scenarios(
    db_path: Path, target: LocalTarget, runs: int, spread_runs: int, idle_secs: float
) -> dict[str, Any]:
    settings = Settings(port=0, db_path=db_path, desktop_notifications=False)
    async with Runtime(settings, serve_http=False) as runtime:
        jobs = await runtime.services.jobs.repo.all_jobs()
        watch = Watch()
        runtime.bus.subscribe(watch)
        await asyncio.sleep(1)  # let start-up settle
        heap.settle()  # what `tickstem-tui serve` does once started
        instant, spread, raw = [], [], []
        for run in range(runs):
            raw.append(await raw_client_seconds(f"{target.url}/hit", JOBS, IN_FLIGHT, method="POST"))
            instant.append(await fire(runtime, jobs, target, watch, 0.0))
            print(f"  instant run {run + 1}/{runs} done", file=sys.stderr, flush=True)
        for run in range(spread_runs):
            spread.append(await fire(runtime, jobs, target, watch, SPREAD_SECS))
            print(f"  spread run {run + 1}/{spread_runs} done", file=sys.stderr, flush=True)
        await runtime.executor.wait_idle()
        await asyncio.sleep(2)
        idle = await idle_cpu(idle_secs)
    return {"instant": instant, "spread": spread, "raw_client_secs": raw, "idle_cpu_share": idle}


def main() -> None:
    parser = bench_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    runs = args.runs or (1 if SMOKE else 3)
    spread_runs = 1 if args.quick else runs
    idle_secs = 1.0 if SMOKE else 5.0 if args.quick else 15.0
    target = LocalTarget()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
            db_path = Path(tmp) / "scheduler.sqlite3"
            schedules = asyncio.run(seed(db_path, target.url))
            loads = [asyncio.run(time_load(db_path)) for _ in range(runs)]
            floors = [cronsim_floor(schedules) for _ in range(runs)]
            result = asyncio.run(scenarios(db_path, target, runs, spread_runs, idle_secs))
    finally:
        target.close()

    load, floor = median(loads), median(floors)
    print_table(
        f"Loading {JOBS:,} jobs with distinct schedules (cold), median of {runs} runs",
        ["what", "seconds", "runs"],
        [
            ["Scheduler.load(): read, parse, next fire, write back", load, [round(x, 3) for x in loads]],
            ["floor: cronsim parse + next fire only", floor, [round(x, 3) for x in floors]],
        ],
    )

    def med(rows: list[dict[str, Any]], *keys: str) -> float:
        values = []
        for row in rows:
            value: Any = row
            for key in keys:
                value = value[key]
            values.append(value)
        return median(values)

    table = []
    for name, rows in (("all at one instant", result["instant"]), (f"spread over {SPREAD_SECS:g} s", result["spread"])):
        for what, key in (
            ("scheduler wake-up", "wake_ms"),
            ("run recorded, call launched", "started_ms"),
            ("call arrived at endpoint", "arrived_ms"),
        ):
            table.append([name, what, med(rows, key, "p50"), med(rows, key, "p99"), med(rows, key, "max")])
    print_table(
        f"Lateness of {JOBS:,} runs, ms after the planned instant (median of {runs} / {spread_runs} runs)",
        ["scenario", "measured at", "p50 ms", "p99 ms", "max ms"],
        table,
    )
    raw = median(result["raw_client_secs"])
    sent = med(result["instant"], "all_sent_secs")
    print_table(
        f"{JOBS:,} due at once: throughput (median of {runs} runs)",
        ["figure", "value"],
        [
            ["all HTTP calls arrived within (s)", sent],
            ["baseline: bare aiohttp client, same calls, 1,000 in flight (s)", raw],
            ["scheduler vs bare client (time ratio)", f"{sent / raw:.2f}x"],
            ["executions recorded per second", med(result["instant"], "recorded_per_sec")],
            ["runs not successful", sum(r["not_success"] for r in result["instant"] + result["spread"])],
            [f"idle CPU, share of one core over {idle_secs:g} s", f"{result['idle_cpu_share'] * 100:.2f}%"],
        ],
    )

    targets = Targets()
    targets.check("10,000 jobs loaded", load, "<=", 0.4, "s")
    targets.check("lateness p99, 10,000 at one instant", med(result["instant"], "started_ms", "p99"), "<=", 80, "ms")
    targets.check("lateness p99, spread over a minute", med(result["spread"], "started_ms", "p99"), "<=", 5, "ms")
    targets.check("all 10,000 HTTP calls sent", sent, "<=", 2.0, "s")
    targets.check("idle CPU when nothing is due", result["idle_cpu_share"] * 100, "<=", 1.0, "% of a core")
    targets.print()
    write_json(
        args.json,
        {
            "benchmark": "scheduler",
            "jobs": JOBS,
            "load_secs": loads,
            "cronsim_floor_secs": floors,
            **result,
            "targets": targets.rows,
        },
    )


if __name__ == "__main__":
    main()
