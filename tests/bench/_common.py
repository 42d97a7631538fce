"""Shared pieces for the benchmark scripts: a no-op target server process, stats, JSON output."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SMOKE = os.environ.get("TICKSTEM_BENCH_SMOKE") == "1"
"""The smallest run that still takes every step (`python -m tests.bench --smoke`): the test suite's proof
that the benchmarks run. Its figures mean nothing."""


def full_or_smoke(full: T, smoke: T) -> T:
    """A benchmark's size, or its smoke-run stand-in."""
    return smoke if SMOKE else full


NOOP_SERVER = r"""
import sys
from aiohttp import web

async def noop(request):
    return web.Response(text="ok")

app = web.Application()
app.router.add_route("*", "/{tail:.*}", noop)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=lambda *a: print("ready", flush=True))
"""


class NoopTarget:
    """A no-op aiohttp server in its own process, so the measured client does not share its CPU time slice."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.proc = subprocess.Popen([sys.executable, "-c", NOOP_SERVER, str(port)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        while "ready" not in self.proc.stdout.readline():
            if time.monotonic() > deadline:
                raise RuntimeError("target did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    import os
    import sqlite3

    import aiohttp

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "aiohttp": aiohttp.__version__,
    }


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, list | tuple):
        return " ".join(fmt(v) for v in value)
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * width for width in widths))


def write_json(path: str | None, data: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps({"machine": machine(), **data}, indent=2))


# -- shared by the issue-7 benchmarks ------------------------------------------------------------------
BENCH_KEY = "tsk_bench_key_0123456789"
"""The API key every benchmark server accepts (`--api-key`)."""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included (Linux /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def serve_command() -> list[str]:
    """The installed `tickstem-tui` entry point next to this interpreter (what a user runs)."""
    import shutil

    script = Path(sys.executable).with_name("tickstem-tui")
    if script.exists():
        return [str(script)]
    found = shutil.which("tickstem-tui")
    return [found] if found else [sys.executable, "-m", "tickstem_tui"]


def bench_env(home: Path, **settings: str) -> dict[str, str]:
    """A clean environment: no inherited TICKSTEM_TUI_* settings, logs under `home`, no desktop D-Bus."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTEM_TUI_")}
    env.update(
        {
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_DATA_HOME": str(home / "data"),
            "TICKSTEM_TUI_DESKTOP_NOTIFICATIONS": "0",
        }
    )
    env.update({f"TICKSTEM_TUI_{name.upper()}": value for name, value in settings.items()})
    return env


class Serve:
    """`tickstem-tui serve` in its own process on a free loopback port; the URL is read from what it prints."""

    def __init__(self, db: Path, home: Path, *, timeout: float = 60.0, **settings: str) -> None:
        self.db = db
        self.started = time.perf_counter()
        self.stderr = (home / "serve-stderr.log").open("ab")
        self.proc = subprocess.Popen(
            [*serve_command(), "serve", "--port", "0", "--db", str(db), "--api-key", BENCH_KEY],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=bench_env(home, **settings),
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        self.url = ""
        for line in self.proc.stdout:
            if line.startswith("tickstem-tui") and " serving on " in line:
                self.url = line.rsplit(" ", 1)[1].strip()
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.close()
            raise RuntimeError(f"tickstem-tui serve did not start (see {home / 'serve-stderr.log'})")
        # Drain the rest of the banner so the child never blocks on a full pipe.
        import threading

        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for _ in self.proc.stdout:
                pass

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def kill(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._closed()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._closed()

    def _closed(self) -> None:
        if self.proc.stdout:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()
        self.stderr.close()


WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def wrk_script(method: str, paths: Sequence[str], bodies: Sequence[str] | None = None) -> str:
    """A wrk Lua script sending `method` to the paths in turn (with the matching body, if any)."""
    lines = [f"local paths = {{{', '.join(_lua_string(p) for p in paths)}}}"]
    if bodies:
        lines.append(f"local bodies = {{{', '.join(_lua_string(b) for b in bodies)}}}")
    else:
        lines.append("local bodies = nil")
    lines.append(
        f"""
local n = 0
request = function()
  n = n + 1
  local i = (n % #paths) + 1
  if bodies then
    return wrk.format({_lua_string(method)}, paths[i], nil, bodies[i])
  end
  return wrk.format({_lua_string(method)}, paths[i])
end
"""
    )
    return "\n".join(lines) + WRK_DONE


def wrk(
    base_url: str,
    script: str,
    *,
    connections: int,
    seconds: float,
    headers: Sequence[str] = (),
    threads: int = 1,
    timeout_secs: int = 5,
) -> dict[str, Any]:
    """Run Debian's wrk (closed loop: every connection sends its next request when the answer arrives)."""
    import shutil
    import tempfile

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout"]
        command += [f"{timeout_secs}s", "-s", script_path]
        for header in headers:
            command += ["-H", header]
        out = subprocess.run(
            [*command, base_url], capture_output=True, text=True, timeout=seconds + 60, check=True
        ).stdout
    finally:
        Path(script_path).unlink()
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {
        "connections": connections,
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "error_detail": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]},
    }


def median_of(runs: Sequence[dict[str, Any]], key: str) -> float:
    return median([run[key] for run in runs])


class Targets:
    """The issue's targets, each checked against a measured figure; printed and written to JSON."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def check(self, name: str, measured: float, op: str, limit: float, unit: str = "", note: str = "") -> bool:
        met = {">=": measured >= limit, "<=": measured <= limit, "<": measured < limit, ">": measured > limit}[op]
        self.rows.append(
            {"target": name, "measured": measured, "op": op, "limit": limit, "unit": unit, "met": met, "note": note}
        )
        return met

    def print(self, title: str = "Targets") -> None:
        if SMOKE:
            title += " (smoke run: sizes cut down, these verdicts mean nothing)"
        print_table(
            title,
            ["target", "measured", "wanted", "verdict"],
            [
                [
                    r["target"],
                    f"{fmt(r['measured'])} {r['unit']}".strip(),
                    f"{r['op']} {fmt(r['limit'])} {r['unit']}".strip(),
                    "met" if r["met"] else "MISSED" + (f" ({r['note']})" if r["note"] else ""),
                ]
                for r in self.rows
            ],
        )


def bench_arguments(description: str) -> Any:
    """The options every benchmark takes: --quick, --runs, --json."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs (the run-all smoke mode)")
    parser.add_argument("--runs", type=int, help="repetitions whose median is quoted (default 3)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("nan")


class LocalTarget:
    """tests/bench/_target.py in its own process: 200 to everything, arrival times of job calls kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = Path(__file__).with_name("_target.py")
        self.proc = subprocess.Popen([sys.executable, str(script), str(self.port)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        if "ready" not in self.proc.stdout.readline():
            self.close()
            raise RuntimeError("target did not start")

    def stats(self) -> dict[str, Any]:
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/__stats", timeout=30) as response:
            return dict(json.loads(response.read()))

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"{self.url}/__reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


async def raw_client_seconds(
    url: str, total: int, in_flight: int, *, method: str = "GET", headers: dict[str, str] | None = None
) -> float:
    """Seconds the bare aiohttp client takes for `total` requests with `in_flight` at once (the baseline)."""
    import asyncio

    import aiohttp

    connector = aiohttp.TCPConnector(limit=in_flight, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        remaining = iter(range(total))

        async def worker() -> None:
            for _ in remaining:
                async with session.request(method, url, headers=headers) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - started
