"""REST API: list jobs (100 and 1,000), get one, register (upsert) one, against the no-op endpoint on the same server.

A real `tickstem-tui serve` in its own process; wrk (1 thread, 8 connections, closed loop) drives it. Every jobs
request carries the API key (checked against the store each time). The no-op baseline is `GET /healthz` on the
same server in the same run, interleaved with the others.
- 100 jobs in the store: the list, `GET /v1/jobs/{id}` over the 100 ids, `POST /v1/jobs` re-registering the 100
  jobs by name with a change each time (their description alternates: an upsert that writes, committed before the
  answer), and re-registering them unchanged (what every deploy sends: checked, nothing to write);
- then 900 more: the list of 1,000.

Run: python -m tests.bench.rest_api [--quick] [--runs 3] [--seconds 5] [--json out.json]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench._common import (
    BENCH_KEY,
    SMOKE,
    Serve,
    Targets,
    bench_arguments,
    full_or_smoke,
    median,
    median_of,
    print_table,
    write_json,
    wrk,
    wrk_script,
)
from tests.bench.scheduler import distinct_schedules

AUTH = f"Authorization: Bearer {BENCH_KEY}"
UPSERT = "POST /v1/jobs (upsert, a change)"
REREGISTER = "POST /v1/jobs (again, unchanged)"
CONNECTIONS = 8
LARGE = full_or_smoke(1000, 200)
"""Jobs stored for the second list figure."""


def job_body(n: int, schedule: str, description: str = "benchmark job") -> dict[str, Any]:
    return {
        "name": f"bench-{n}",
        "schedule": schedule,
        "endpoint": f"http://127.0.0.1:9/job/{n}",
        "method": "POST",
        "description": description,
    }


async def register(base: str, bodies: list[dict[str, Any]]) -> list[str]:
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {BENCH_KEY}"}) as session:
        ids = []
        for body in bodies:
            async with session.post("/v1/jobs", json=body) as response:
                assert response.status in (200, 201), await response.text()
                ids.append((await response.json())["id"])
        return ids


def main() -> None:
    parser = bench_arguments(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="length of each run (default 5, quick 2)")
    args = parser.parse_args()
    runs = args.runs or (1 if SMOKE else 3)
    seconds = args.seconds or (1.0 if SMOKE else 2.0 if args.quick else 5.0)
    schedules = distinct_schedules(LARGE, datetime.now(UTC))
    bodies = [job_body(n, schedules[n]) for n in range(LARGE)]
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        folder = Path(tmp)
        server = Serve(folder / "rest.sqlite3", folder)
        try:
            ids = asyncio.run(register(server.url, bodies[:100]))
            # Each job's description alternates, so every request changes the job it names.
            changing = [job_body(n, schedules[n], "changed") for n in range(100)] + bodies[:100]
            phase_a = {
                "no-op GET /healthz": wrk_script("GET", ["/healthz"]),
                "GET /v1/jobs (100 jobs)": wrk_script("GET", ["/v1/jobs"]),
                "GET /v1/jobs/{id}": wrk_script("GET", [f"/v1/jobs/{i}" for i in ids]),
                UPSERT: wrk_script("POST", ["/v1/jobs"] * 200, [json.dumps(b) for b in changing]),
                REREGISTER: wrk_script("POST", ["/v1/jobs"] * 100, [json.dumps(b) for b in bodies[:100]]),
            }
            headers = [AUTH, "Content-Type: application/json"]
            for script in phase_a.values():
                wrk(server.url, script, connections=CONNECTIONS, seconds=1, headers=headers)
            for run in range(runs):
                for name, script in phase_a.items():
                    result = wrk(server.url, script, connections=CONNECTIONS, seconds=seconds, headers=headers)
                    results.setdefault(name, []).append(result)
                print(f"  100-job run {run + 1}/{runs} done", file=sys.stderr, flush=True)
            asyncio.run(register(server.url, bodies[100:]))
            phase_b = {
                "no-op GET /healthz (1,000 jobs stored)": phase_a["no-op GET /healthz"],
                "GET /v1/jobs (1,000 jobs)": wrk_script("GET", ["/v1/jobs"]),
            }
            for run in range(runs):
                for name, script in phase_b.items():
                    result = wrk(server.url, script, connections=CONNECTIONS, seconds=seconds, headers=headers)
                    results.setdefault(name, []).append(result)
                print(f"  1,000-job run {run + 1}/{runs} done", file=sys.stderr, flush=True)
        finally:
            server.close()

    baselines = {
        name: "no-op GET /healthz (1,000 jobs stored)" if "1,000" in name else "no-op GET /healthz" for name in results
    }
    ratios = {
        name: median([r["rps"] / b["rps"] for r, b in zip(rows, results[baselines[name]], strict=True)])
        for name, rows in results.items()
    }
    print_table(
        f"REST API, wrk 1 thread x {CONNECTIONS} connections, {seconds:g} s per run, median of {runs} runs",
        ["request", "req/s", "vs no-op", "p50 ms", "p99 ms", "errors"],
        [
            [
                name,
                median_of(rows, "rps"),
                f"{ratios[name]:.2f}x",
                median_of(rows, "p50_ms"),
                median_of(rows, "p99_ms"),
                sum(r["errors"] for r in rows),
            ]
            for name, rows in results.items()
        ],
    )
    targets = Targets()
    targets.check("list 100 jobs req/s vs no-op", ratios["GET /v1/jobs (100 jobs)"], ">=", 0.25, "x")
    targets.check("get one job req/s vs no-op", ratios["GET /v1/jobs/{id}"], ">=", 0.35, "x")
    targets.check("register (upsert, a change) req/s vs no-op", ratios[UPSERT], ">=", 0.35, "x")
    targets.check("register again unchanged req/s vs no-op", ratios[REREGISTER], ">=", 0.35, "x")
    for name in ("GET /v1/jobs (100 jobs)", "GET /v1/jobs/{id}", UPSERT, REREGISTER):
        targets.check(f"{name} p99", median_of(results[name], "p99_ms"), "<=", 5.0, "ms")
    errors = sum(r["errors"] for rows in results.values() for r in rows)
    targets.check("errors", errors, "<=", 0)
    targets.print()
    write_json(
        args.json,
        {
            "benchmark": "rest_api",
            "connections": CONNECTIONS,
            "seconds": seconds,
            "results": [{"request": n, "ratio_vs_noop": ratios[n], "runs": rows} for n, rows in results.items()],
            "targets": targets.rows,
        },
    )


if __name__ == "__main__":
    main()
