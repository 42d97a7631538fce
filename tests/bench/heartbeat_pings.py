"""Durable heartbeat pings: one commit per ping vs the writer's adaptive group commit, under concurrent load.

Two views, each run with the writer's batch size forced to 1 (one COMMIT per ping) and at its default
(whatever queued while the previous batch committed goes in together). Every acknowledged ping is
committed in both modes; only how many ride in one COMMIT differs.
- in-process: N tasks call HeartbeatService.ping() on a real store (the ingestion path without HTTP);
- HTTP: a real `tickstem-tui serve` in its own process, N connections from this one.

Run: python -m tests.bench.heartbeat_pings [--connections 1 8 64 256] [--seconds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

import tickstem_tui.store.database as database
from tests.bench._common import percentile, print_table, write_json
from tickstem_tui.config import Settings
from tickstem_tui.runtime import Runtime

API_KEY = "bench-key"
LAUNCHER = r"""
import sys
import tickstem_tui.store.database as database
database.MAX_BATCH = int(sys.argv[1])
from tickstem_tui.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


class ServerProcess:
    def __init__(self, batch: int, workdir: Path) -> None:
        db = workdir / f"bench-{batch}.sqlite3"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(batch), "serve", "--port", "0", "--db", str(db), "--api-key", API_KEY],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if match := re.search(r"serving on (http://\S+)", line):
                self.url = match.group(1)
                break
        else:
            raise RuntimeError("server did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()


async def _load(url: str, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        tokens = []
        for n in range(8):
            async with session.post(f"{url}/v1/heartbeats", json={"name": f"bench-{n}"}, headers=auth) as r:
                tokens.append((await r.json())["token"])
        stop_at = time.perf_counter() + seconds

        async def worker(number: int) -> None:
            ping_url = f"{url}/v1/heartbeats/{tokens[number % len(tokens)]}/ping"
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                async with session.post(ping_url) as response:
                    await response.read()
                    assert response.status == 200
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(connections)))
        elapsed = time.perf_counter() - began
    return {
        "connections": connections,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


async def _in_process(batch: int, connections: int, seconds: float, workdir: Path) -> dict[str, Any]:
    database.MAX_BATCH = batch
    latencies: list[float] = []
    settings = Settings(port=0, db_path=workdir / f"inproc-{batch}-{connections}.sqlite3", api_key=API_KEY)
    async with Runtime(settings, serve_http=False) as rt:
        owner = rt.services.accounts.owner_id
        tokens = [(await rt.services.heartbeats.create(owner, {"name": f"b{n}"})).token for n in range(8)]
        batches, writes = rt.db.batches, rt.db.batched_writes
        stop_at = time.perf_counter() + seconds

        async def worker(number: int) -> None:
            token = tokens[number % len(tokens)]
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await rt.services.heartbeats.ping(token)
                latencies.append((time.perf_counter() - started) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(connections)))
        elapsed = time.perf_counter() - began
        per_commit = (rt.db.batched_writes - writes) / max(1, rt.db.batches - batches)
    return {
        "connections": connections,
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "writes_per_commit": per_commit,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    modes = {"one commit per ping": 1, "group commit (adaptive)": database.MAX_BATCH}
    results: dict[str, list[dict[str, Any]]] = {}
    inproc_rows = []
    http_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, batch in modes.items():
            for connections in args.connections:
                result = asyncio.run(_in_process(batch, connections, args.seconds, Path(tmp)))
                results.setdefault(f"in-process, {label}", []).append(result)
                inproc_rows.append(
                    [
                        label,
                        connections,
                        result["requests"],
                        result["rps"],
                        result["writes_per_commit"],
                        result["p50_ms"],
                        result["p99_ms"],
                    ]
                )
        for label, batch in modes.items():
            server = ServerProcess(batch, Path(tmp))
            try:
                for connections in args.connections:
                    result = asyncio.run(_load(server.url, connections, args.seconds))
                    results.setdefault(f"HTTP, {label}", []).append(result)
                    http_rows.append(
                        [label, connections, result["requests"], result["rps"], result["p50_ms"], result["p99_ms"]]
                    )
            finally:
                server.close()
    print_table(
        "In-process ingestion: HeartbeatService.ping() on a real store (WAL, synchronous=NORMAL)",
        ["mode", "tasks", "pings", "pings/s", "writes/commit", "p50 ms", "p99 ms"],
        inproc_rows,
    )
    print_table(
        "HTTP: POST /v1/heartbeats/{token}/ping against `tickstem-tui serve` (200 only after COMMIT)",
        ["mode", "connections", "pings", "pings/s", "p50 ms", "p99 ms"],
        http_rows,
    )
    write_json(args.json, {"benchmark": "heartbeat_pings", "results": results})


if __name__ == "__main__":
    main()
