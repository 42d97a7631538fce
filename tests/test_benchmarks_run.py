"""The benchmarks still run: `python -m tests.bench --smoke` takes every step of each, cut down to size.

Nothing here judges speed (the figures of a smoke run mean nothing); what is checked is that every benchmark
finishes, reports a figure for each of its targets, and that the behaviour the benchmarks also prove holds:
no request failed and no acknowledged ping was lost across SIGKILL.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_runs_and_reports_each_target(tmp_path: Path) -> None:
    assert shutil.which("wrk"), "the ping and REST benchmarks drive the server with wrk: apt-get install wrk"
    out = tmp_path / "bench.json"
    env = {key: value for key, value in os.environ.items() if key != "TICKSTEM_BENCH_SMOKE"}
    finished = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--smoke", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["smoke"] is True and report["failed"] == []
    assert sorted(report["results"]) == sorted(BENCHMARKS)
    for name, result in report["results"].items():
        assert result["targets"], f"{name} reported no targets"
        for target in result["targets"]:
            assert isinstance(target["measured"], int | float) and math.isfinite(target["measured"]), (name, target)

    pings = report["results"]["pings"]
    assert pings["crash"]["acked"] > 0 and pings["crash"]["lost"] == 0
    for row in pings["closed_loop"]:
        assert all(run["errors"] == 0 and run["requests"] > 0 for run in row["runs"]), row["endpoint"]
    for row in report["results"]["rest_api"]["results"]:
        assert all(run["errors"] == 0 and run["requests"] > 0 for run in row["runs"]), row["request"]
    assert "SMOKE RUN" in finished.stdout
