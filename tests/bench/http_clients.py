"""Outbound HTTP client choice: aiohttp ClientSession vs httpx AsyncClient with many requests in flight.

Run: python -m tests.bench.http_clients [--in-flight 1000] [--requests 5000] [--runs 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

import aiohttp
import httpx

from tests.bench._common import NoopTarget, median, print_table, write_json


async def _drive(call: object, url: str, total: int, in_flight: int) -> float:
    queue = iter(range(total))

    async def worker() -> None:
        for _ in queue:
            await call(url)  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return total / (time.perf_counter() - started)


async def aiohttp_rate(url: str, total: int, in_flight: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def call(target: str) -> None:
            async with session.get(target) as response:
                await response.read()

        return await _drive(call, url, total, in_flight)


async def httpx_rate(url: str, total: int, in_flight: int) -> float:
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def call(target: str) -> None:
            (await client.get(target)).raise_for_status()

        return await _drive(call, url, total, in_flight)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    target = NoopTarget(free_port())
    try:
        results: dict[str, list[float]] = {"aiohttp": [], "httpx": []}
        for _ in range(args.runs):
            results["aiohttp"].append(asyncio.run(aiohttp_rate(target.url, args.requests, args.in_flight)))
            results["httpx"].append(asyncio.run(httpx_rate(target.url, args.requests, args.in_flight)))
    finally:
        target.close()
    a, h = median(results["aiohttp"]), median(results["httpx"])
    print_table(
        f"HTTP clients, {args.in_flight} in flight, {args.requests} requests, median of {args.runs} runs",
        ["client", "req/s (median)", "runs"],
        [["aiohttp ClientSession", a, results["aiohttp"]], ["httpx AsyncClient", h, results["httpx"]]],
    )
    print(f"\n  aiohttp / httpx = {a / h:.1f}x")
    write_json(args.json, {"in_flight": args.in_flight, "results": results, "ratio_aiohttp_over_httpx": a / h})


if __name__ == "__main__":
    main()
