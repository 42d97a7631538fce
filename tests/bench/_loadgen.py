"""A load generator in its own process (never the server's): paced open-loop requests, or labelled pings to a crash.

paced:  sends `--rate` requests per second on a fixed schedule whatever the answers do (open loop), over a pool
        of keep-alive connections; each latency runs from the request's *planned* send time, so a stalled server
        shows up in the figures instead of silently slowing the generator down (no coordinated omission).
pinger: closed loop on many connections, each ping labelled by its User-Agent; runs until the server is killed
        (or --max-seconds) and writes the labels that were acknowledged with a 200 to --out.

Run by the benchmarks as `python tests/bench/_loadgen.py MODE ...`; prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


async def paced(args: argparse.Namespace, paths: list[str]) -> dict[str, Any]:
    headers = dict(h.split(": ", 1) for h in args.header)
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=0)
    async with aiohttp.ClientSession(args.base, connector=connector, headers=headers) as session:

        async def one(path: str, planned: float, measured: bool) -> None:
            nonlocal errors
            try:
                async with session.request(args.method, path) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except (aiohttp.ClientError, OSError, TimeoutError):
                ok = False
            if not measured:
                return
            if ok:
                latencies.append((loop.time() - planned) * 1000)
            else:
                errors += 1

        tasks: set[asyncio.Task[None]] = set()
        warmup = int(args.rate * args.warmup)
        total = warmup + int(args.rate * args.seconds)
        start = loop.time() + 0.05
        for i in range(total):
            planned = start + i / args.rate
            delay = planned - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(paths[i % len(paths)], planned, i >= warmup))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        send_end = loop.time()
        if tasks:
            await asyncio.wait(tasks, timeout=30)
    measured_span = send_end - (start + warmup / args.rate)
    return {
        "rate_wanted": args.rate,
        "rate_sent": (total - warmup) / measured_span if measured_span > 0 else float("nan"),
        "requests": len(latencies),
        "errors": errors + (total - warmup - len(latencies) - errors),
        "p50_ms": _pct(latencies, 50),
        "p90_ms": _pct(latencies, 90),
        "p99_ms": _pct(latencies, 99),
        "max_ms": max(latencies, default=float("nan")),
    }


async def pinger(args: argparse.Namespace, targets: list[list[str]], acked: list[str]) -> dict[str, Any]:
    """`targets` are [method, path] pairs; acknowledged labels are appended to `acked`."""
    sent = 0
    failures: dict[str, int] = {}
    deadline = time.monotonic() + args.max_seconds
    connector = aiohttp.TCPConnector(limit=args.connections, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(args.base, connector=connector, timeout=timeout) as session:

        async def worker(number: int) -> None:
            nonlocal sent
            count = 0
            while time.monotonic() < deadline:
                method, path = targets[(number + count * args.connections) % len(targets)]
                label = f"bench/{number}/{count}"
                count += 1
                sent += 1
                try:
                    async with session.request(method, path, headers={"User-Agent": label}) as response:
                        await response.read()
                        if response.status != 200:
                            failures[f"HTTP {response.status}"] = failures.get(f"HTTP {response.status}", 0) + 1
                            continue
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    return  # the server is gone: this connection's last ping was never acknowledged
                acked.append(label)

        print("started", flush=True)
        await asyncio.gather(*(worker(n) for n in range(args.connections)))
    return {"sent": sent, "acked": len(acked), "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["paced", "pinger"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--paths", required=True, help="JSON file: paths (paced) or [method, path] pairs (pinger)")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--rate", type=float, default=950.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    listed = json.loads(Path(args.paths).read_text())
    if args.mode == "paced":
        result = asyncio.run(paced(args, listed))
    else:
        acked: list[str] = []
        result = asyncio.run(pinger(args, listed, acked))
        Path(args.out).write_text(json.dumps(acked))
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
