"""Run every issue-7 benchmark, each in its own process, then print one summary of the targets.

Run: python -m tests.bench [--quick | --smoke] [--only pings scheduler ...] [--json bench-results/all.json]

--quick runs fewer and shorter repetitions (a few minutes in all); without it expect ~15 minutes.
--smoke cuts every size down to take each step once (about a minute; the test suite runs it to prove the
benchmarks still work; its figures mean nothing). Alone: TICKSTEM_BENCH_SMOKE=1 python -m tests.bench.NAME.
Each benchmark is also runnable on its own: python -m tests.bench.NAME --help.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench._common import fmt, machine, print_table

BENCHMARKS = ["startup", "rest_api", "pings", "scheduler", "poller", "tui"]
"""In this order; `tui` (the console's own benchmark) runs when tests/bench/tui.py exists."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (a few minutes in all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, every step once (figures mean nothing)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run just these")
    parser.add_argument("--json", help="write every figure and the summary to this file")
    args = parser.parse_args()
    here = Path(__file__).parent
    chosen = [name for name in (args.only or BENCHMARKS) if (here / f"{name}.py").exists()]
    facts = machine()
    print(
        f"machine: {facts['cpu_model']} x{facts['cpus']}, {facts['platform']}, Python {facts['python']}, "
        f"SQLite {facts['sqlite']}, aiohttp {facts['aiohttp']}",
        flush=True,
    )
    results: dict[str, Any] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        for name in chosen:
            out = Path(tmp) / f"{name}.json"
            command = [sys.executable, "-m", f"tests.bench.{name}", "--json", str(out)]
            source = (here / f"{name}.py").read_text()
            if args.quick and ("bench_arguments(" in source or '"--quick"' in source):
                command.append("--quick")  # a benchmark without a quick mode runs as it is
            print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
            started = time.perf_counter()
            try:
                env = {**os.environ, "TICKSTEM_BENCH_SMOKE": "1"} if args.smoke else None
                timeout = 300 if args.smoke else 900 if args.quick else 3600
                code = subprocess.run(command, timeout=timeout, check=False, env=env).returncode
            except subprocess.TimeoutExpired:
                code = -1
            elapsed = time.perf_counter() - started
            if code != 0 or not out.exists():
                failed.append(name)
                print(f"=== {name} FAILED (exit {code}) after {elapsed:.0f} s", flush=True)
                continue
            results[name] = {"seconds": elapsed, **json.loads(out.read_text())}
            print(f"=== {name} done in {elapsed:.0f} s", flush=True)

    rows = []
    for name, data in results.items():
        for target in data.get("targets", []):
            measured = f"{fmt(target['measured'])} {target.get('unit', '')}".strip()
            wanted = f"{target['op']} {fmt(target['limit'])} {target.get('unit', '')}".strip()
            rows.append([name, target["target"], measured, wanted, "met" if target["met"] else "MISSED"])
    title = "Summary of targets (each measured against its baseline in the same run)"
    if args.smoke:
        title += ": SMOKE RUN, sizes cut down, the verdicts mean nothing"
    print_table(title, ["bench", "target", "measured", "wanted", "verdict"], rows)
    met = sum(row[-1] == "met" for row in rows)
    print(f"\n  {met} of {len(rows)} targets met; benchmarks failed: {', '.join(failed) or 'none'}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(
            json.dumps(
                {"machine": facts, "quick": args.quick, "smoke": args.smoke, "failed": failed, "results": results},
                indent=2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
