"""Ping ingestion: a real `tickstem-tui serve` driven by wrk and a paced generator, against its own no-op endpoint.

Measured on one server, in one run, interleaved so drift hits every figure alike:
- closed loop (wrk, max throughput) at 8 and 256 connections: `GET /healthz` (the no-op baseline: no store, no
  auth, same middlewares), CronSafe `GET /ping/{slug}` and Tickstem `POST /v1/heartbeats/{token}/ping`, each ping
  rotating over 100 heartbeats; every ping answer is sent only after the ping row and the heartbeat's new
  state are committed;
- paced open loop (~950 req/s from a separate Python process, latency from the planned send time);
- crash: SIGKILL under load from 64 connections, restart, count acknowledged pings missing from the store;
- responsiveness: the no-op probed at 100 req/s while wrk drives the no-op, then pings, at 8 connections:
  what the loop's own commits (quick writes run on the loop's thread) cost everything else it serves.

CronSafe's per-IP ping limit (1,000/min) is turned off for the run (TICKSTEM_TUI_RATE_LIMIT_PING=0), as is the
API limit used to create the monitors.

Run: python -m tests.bench.pings [--quick] [--runs 3] [--seconds 8] [--json out.json]
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
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

HEARTBEATS = full_or_smoke(100, 20)
LOADGEN = Path(__file__).with_name("_loadgen.py")
SERVER_SETTINGS = {"rate_limit_ping": "0", "rate_limit_api": "0", "max_pings_per_heartbeat": "100000000"}
ENDPOINTS = ("no-op /healthz", "CronSafe GET /ping/{slug}", "Tickstem POST /v1/heartbeats/{token}/ping")


async def _create_heartbeats(base: str) -> tuple[list[str], list[str]]:
    """100 Tickstem heartbeats (tokens) and 100 CronSafe monitors (slugs), hourly, through the public API."""
    auth = {"Authorization": f"Bearer {BENCH_KEY}"}
    async with aiohttp.ClientSession(base) as session:
        tokens = []
        for n in range(HEARTBEATS):
            body = {"name": f"bench-{n}", "interval_secs": 3600}
            async with session.post("/v1/heartbeats", json=body, headers=auth) as response:
                assert response.status == 201, await response.text()
                tokens.append((await response.json())["token"])
        user = {"email": "bench@example.com", "password": "benchmark-password"}
        async with session.post("/api/auth/register", json=user) as response:
            assert response.status == 201, await response.text()
            jwt = {"Authorization": f"Bearer {(await response.json())['token']}"}
        slugs = []
        for n in range(HEARTBEATS):
            body = {"name": f"bench-{n}", "expected_interval_minutes": 60}
            async with session.post("/api/monitors", json=body, headers=jwt) as response:
                assert response.status == 201, await response.text()
                slugs.append((await response.json())["slug"])
    return tokens, slugs


def _scripts(tokens: list[str], slugs: list[str]) -> dict[str, str]:
    return {
        ENDPOINTS[0]: wrk_script("GET", ["/healthz"]),
        ENDPOINTS[1]: wrk_script("GET", [f"/ping/{slug}" for slug in slugs]),
        ENDPOINTS[2]: wrk_script("POST", [f"/v1/heartbeats/{token}/ping" for token in tokens]),
    }


def _paced(base: str, method: str, paths: list[str], rate: float, seconds: float, folder: Path) -> dict[str, Any]:
    paths_file = folder / "paced-paths.json"
    paths_file.write_text(json.dumps(paths))
    command = [sys.executable, str(LOADGEN), "paced", "--base", base, "--paths", str(paths_file)]
    command += ["--method", method, "--rate", str(rate), "--seconds", str(seconds), "--connections", "64"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 90, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _responsiveness(base: str, script: str, seconds: float, folder: Path) -> dict[str, Any]:
    """The no-op's latency, paced at 100 req/s from another process, while wrk loads the server with `script`."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(wrk, base, script, connections=8, seconds=seconds + 2)
        time.sleep(1)  # the load is running before the probe starts, and outlasts it
        probe = _paced(base, "GET", ["/healthz"], 100.0, seconds, folder)
        load.result()
    return probe


def _crash(server: Serve, tokens: list[str], slugs: list[str], load_secs: float, folder: Path) -> dict[str, Any]:
    """SIGKILL the server while 64 connections ping it; restart; every acknowledged ping must be stored."""
    targets = [["POST", f"/v1/heartbeats/{t}/ping"] for t in tokens] + [["GET", f"/ping/{s}"] for s in slugs]
    targets_file, acked_file = folder / "crash-targets.json", folder / "crash-acked.json"
    targets_file.write_text(json.dumps(targets))
    command = [sys.executable, str(LOADGEN), "pinger", "--base", server.url, "--paths", str(targets_file)]
    command += ["--connections", "64", "--max-seconds", str(load_secs + 30), "--out", str(acked_file)]
    loadgen = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert loadgen.stdout is not None
    assert loadgen.stdout.readline().strip() == "started"
    time.sleep(load_secs)
    server.kill()
    out, _ = loadgen.communicate(timeout=60)
    summary = json.loads(out.strip().splitlines()[-1])
    acked = set(json.loads(acked_file.read_text()))
    restarted = Serve(server.db, folder, **SERVER_SETTINGS)
    try:
        with closing(sqlite3.connect(server.db)) as conn:
            stored = {
                row[0]
                for row in conn.execute("SELECT user_agent FROM heartbeat_pings WHERE user_agent LIKE ?", ("bench/%",))
            }

        async def answers() -> int:
            async with (
                aiohttp.ClientSession(restarted.url) as session,
                session.get("/v1/heartbeats", headers={"Authorization": f"Bearer {BENCH_KEY}"}) as response,
            ):
                return response.status

        status = asyncio.run(answers())
    finally:
        restarted.close()
    return {
        "sent": summary["sent"],
        "acked": len(acked),
        "in_flight_at_kill": summary["sent"] - len(acked),
        "stored": len(stored),
        "lost": len(acked - stored),
        "restart_status": status,
    }


def main() -> None:
    parser = bench_arguments(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="length of each closed-loop run (default 8, quick 3)")
    parser.add_argument("--rate", type=float, default=950.0, help="paced request rate (default 950/s)")
    args = parser.parse_args()
    runs = args.runs or (1 if SMOKE else 3)
    seconds = args.seconds or (1.0 if SMOKE else 3.0 if args.quick else 8.0)
    paced_secs = 1.0 if SMOKE else 4.0 if args.quick else 10.0
    closed: dict[tuple[str, int], list[dict[str, Any]]] = {}
    paced: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pings-") as tmp:
        folder = Path(tmp)
        server = Serve(folder / "pings.sqlite3", folder, **SERVER_SETTINGS)
        try:
            tokens, slugs = asyncio.run(_create_heartbeats(server.url))
            scripts = _scripts(tokens, slugs)
            paced_paths = {
                ENDPOINTS[0]: ("GET", ["/healthz"]),
                ENDPOINTS[1]: ("GET", [f"/ping/{s}" for s in slugs]),
                ENDPOINTS[2]: ("POST", [f"/v1/heartbeats/{t}/ping" for t in tokens]),
            }
            for script in scripts.values():  # warm-up: connections, caches, the first WAL pages
                wrk(server.url, script, connections=8, seconds=1)
            for run in range(runs):
                for connections in (8, 256):
                    for name, script in scripts.items():
                        result = wrk(server.url, script, connections=connections, seconds=seconds)
                        closed.setdefault((name, connections), []).append(result)
                for name, (method, paths) in paced_paths.items():
                    paced.setdefault(name, []).append(_paced(server.url, method, paths, args.rate, paced_secs, folder))
                print(f"  run {run + 1}/{runs} done", file=sys.stderr, flush=True)
            responsive = {
                name: [_responsiveness(server.url, scripts[name], paced_secs, folder) for _ in range(runs)]
                for name in ENDPOINTS[:2]
            }
            crash = _crash(server, tokens, slugs, 1.0 if SMOKE else 2.0 if args.quick else 4.0, folder)
        finally:
            server.close()

    rows = []
    ratios: dict[tuple[str, int], float] = {}
    for (name, connections), results in closed.items():
        baseline = closed[(ENDPOINTS[0], connections)]
        per_run = [r["rps"] / b["rps"] for r, b in zip(results, baseline, strict=True)]
        ratios[(name, connections)] = median(per_run)
        rows.append(
            [
                name,
                connections,
                median_of(results, "rps"),
                f"{median(per_run):.2f}x",
                median_of(results, "p50_ms"),
                median_of(results, "p99_ms"),
                sum(r["errors"] for r in results),
            ]
        )
    rows.sort(key=lambda row: (row[1], ENDPOINTS.index(row[0])))
    print_table(
        f"Closed loop (wrk, 1 thread), {seconds:g} s per run, median of {runs} runs",
        ["endpoint", "conns", "req/s", "vs no-op", "p50 ms", "p99 ms", "errors"],
        rows,
    )
    paced_rows = []
    base_p99 = median_of(paced[ENDPOINTS[0]], "p99_ms")
    for name, results in paced.items():
        p99 = median_of(results, "p99_ms")
        paced_rows.append(
            [
                name,
                median_of(results, "rate_sent"),
                median_of(results, "p50_ms"),
                p99,
                f"{p99 / base_p99:.2f}x",
                median_of(results, "max_ms"),
                sum(r["errors"] for r in results),
            ]
        )
    print_table(
        f"Paced open loop ({args.rate:g} req/s planned, {paced_secs:g} s, 64 connections), median of {runs} runs",
        ["endpoint", "req/s sent", "p50 ms", "p99 ms", "p99 vs no-op", "max ms", "errors"],
        paced_rows,
    )
    print_table(
        "Responsiveness: the no-op paced at 100 req/s while wrk loads the server (8 connections), median of "
        f"{runs} runs",
        ["load", "no-op p50 ms", "no-op p99 ms", "no-op max ms"],
        [
            [name, median_of(results, "p50_ms"), median_of(results, "p99_ms"), median_of(results, "max_ms")]
            for name, results in responsive.items()
        ],
    )
    print_table(
        "SIGKILL under load (64 connections), then restart",
        ["pings sent", "acknowledged", "unanswered at kill", "stored after restart", "acknowledged but lost"],
        [[crash["sent"], crash["acked"], crash["in_flight_at_kill"], crash["stored"], crash["lost"]]],
    )

    targets = Targets()
    for name in ENDPOINTS[1:]:
        short = name.split(" ")[0]
        targets.check(f"{short} ping req/s vs no-op, 8 conns", ratios[(name, 8)], ">=", 0.5, "x")
        targets.check(f"{short} ping req/s vs no-op, 256 conns", ratios[(name, 256)], ">=", 0.45, "x")
        targets.check(f"{short} ping p99, 256 conns", median_of(closed[(name, 256)], "p99_ms"), "<=", 60, "ms")
        targets.check(f"{short} ping errors, 256 conns", sum(r["errors"] for r in closed[(name, 256)]), "<=", 0)
        p99_ratio = median_of(paced[name], "p99_ms") / base_p99
        targets.check(f"{short} ping p99 vs no-op, paced {args.rate:g}/s", p99_ratio, "<=", 2.0, "x")
    targets.check("acknowledged pings lost across SIGKILL", crash["lost"], "<=", 0)
    targets.print()
    write_json(
        args.json,
        {
            "benchmark": "pings",
            "runs": runs,
            "seconds": seconds,
            "closed_loop": [
                {"endpoint": name, "connections": conns, "runs": results, "ratio_vs_noop": ratios[(name, conns)]}
                for (name, conns), results in closed.items()
            ],
            "paced": [{"endpoint": name, "runs": results} for name, results in paced.items()],
            "responsiveness": [{"load": name, "runs": results} for name, results in responsive.items()],
            "crash": crash,
            "targets": targets.rows,
        },
    )


if __name__ == "__main__":
    main()
