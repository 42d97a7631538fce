"""Start-up: process start to the first 200 on `/v1/jobs` with 10,000 jobs in the database.

Each run starts `tickstem-tui serve` on a free port and polls `GET /v1/jobs` (with the API key) every 5 ms
until it answers 200 (the answer lists all 10,000 jobs). Baselines in the same run: the same command on an
empty database, and the bare interpreter (`python -c pass`).

The package's bytecode is compiled first (as `pip install` does), so no run pays for compiling modules.

Run: python -m tests.bench.startup [--quick] [--runs 5] [--json out.json]
"""

from __future__ import annotations

import asyncio
import http.client
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tickstem_tui
from tests.bench._common import (
    BENCH_KEY,
    SMOKE,
    Targets,
    bench_arguments,
    bench_env,
    free_port,
    full_or_smoke,
    median,
    print_table,
    serve_command,
    write_json,
)
from tests.bench.scheduler import seed

JOBS = full_or_smoke(10_000, 200)


def first_200(db: Path, home: Path, path: str) -> float:
    """Seconds from spawning the server to its first 200 on `path`."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*serve_command(), "serve", "--port", str(port), "--db", str(db), "--api-key", BENCH_KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=bench_env(home),
    )
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers={"Authorization": f"Bearer {BENCH_KEY}"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            finally:
                conn.close()
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            time.sleep(0.005)
        raise RuntimeError("no 200 within 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bare_interpreter() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = bench_arguments(__doc__.splitlines()[0])
    args = parser.parse_args()
    runs = args.runs or (1 if SMOKE else 3 if args.quick else 5)
    full: list[float] = []
    empty: list[float] = []
    bare: list[float] = []
    # An installed wheel has its bytecode compiled by pip; a checkout run with PYTHONDONTWRITEBYTECODE would
    # compile every module at each start instead, which is not what users see.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tickstem_tui.__file__).parent)], check=True)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        loaded, fresh = folder / "jobs.sqlite3", folder / "empty.sqlite3"
        asyncio.run(seed(loaded, "http://127.0.0.1:9"))
        first_200(fresh, folder, "/v1/jobs")  # creates the empty database (first start), not measured
        first_200(loaded, folder, "/v1/jobs")  # warms the page cache and .pyc files, not measured
        for _ in range(runs):
            full.append(first_200(loaded, folder, "/v1/jobs"))
            empty.append(first_200(fresh, folder, "/v1/jobs"))
            bare.append(bare_interpreter())
    print_table(
        f"Process start to first 200 on GET /v1/jobs, median of {runs} runs",
        ["database", "seconds", "runs"],
        [
            [f"{JOBS:,} jobs (the answer lists them all)", median(full), [round(x, 3) for x in full]],
            ["empty (baseline)", median(empty), [round(x, 3) for x in empty]],
            ["bare interpreter: python -c pass (floor)", median(bare), [round(x, 3) for x in bare]],
        ],
    )
    targets = Targets()
    targets.check(f"start to first 200 on /v1/jobs, {JOBS:,} jobs", median(full), "<=", 1.0, "s")
    targets.print()
    write_json(
        args.json,
        {
            "benchmark": "startup",
            "jobs": JOBS,
            "with_jobs_secs": full,
            "empty_secs": empty,
            "bare_interpreter_secs": bare,
            "targets": targets.rows,
        },
    )


if __name__ == "__main__":
    main()
