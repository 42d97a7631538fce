"""Durable ping ingestion: SIGKILL a real `tickstem-tui serve` under ping load; every acknowledged ping survives."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

import aiohttp

from tests.conftest import API_KEY

CLIENTS = 8
TARGET_ACKS = 1500
MAX_LOAD_SECS = 5.0


def _command() -> list[str]:
    script = Path(sys.executable).with_name("tickstem-tui")
    if script.exists():
        return [str(script)]
    found = shutil.which("tickstem-tui")
    return [found] if found else [sys.executable, "-m", "tickstem_tui"]


class Server:
    """One `tickstem-tui serve` process on a free port; its URL is read from what it prints."""

    def __init__(self, proc: asyncio.subprocess.Process, base_url: str) -> None:
        self.proc = proc
        self.base_url = base_url

    @classmethod
    async def start(cls, db: Path, home: Path) -> Server:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TICKSTEM_TUI_")},
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_DATA_HOME": str(home / "data"),
        }
        stderr = (home / "server-stderr.log").open("ab")
        try:
            proc = await asyncio.create_subprocess_exec(
                *_command(),
                "serve",
                "--port",
                "0",
                "--db",
                str(db),
                "--api-key",
                API_KEY,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
            )
        finally:
            stderr.close()  # the child holds its own copy
        assert proc.stdout is not None
        seen = b""
        try:
            while not (match := re.search(rb"serving on (http://\S+)", seen)):
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
                assert line, f"server exited before serving: {seen.decode()}"
                seen += line
        except BaseException:
            proc.kill()
            await proc.communicate()
            raise
        return cls(proc, match.group(1).decode())

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.communicate()
        assert self.proc.returncode == -signal.SIGKILL

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.communicate(), timeout=30)
        assert self.proc.returncode == 0


@asynccontextmanager
async def running(db: Path, home: Path) -> AsyncIterator[Server]:
    server = await Server.start(db, home)
    try:
        yield server
    finally:
        if server.proc.returncode is None:
            server.proc.kill()
            await server.proc.communicate()


def stored_user_agents(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute("SELECT user_agent FROM heartbeat_pings")}


async def test_every_acknowledged_ping_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    auth = {"Authorization": f"Bearer {API_KEY}"}
    acked: set[str] = set()
    enough = asyncio.Event()
    killed = False

    async with running(db, tmp_path) as server, aiohttp.ClientSession() as session:
        tokens = []
        for name in ("first", "second"):
            async with session.post(f"{server.base_url}/v1/heartbeats", json={"name": name}, headers=auth) as r:
                assert r.status == 201
                tokens.append((await r.json())["token"])

        async def client(number: int) -> int:
            """Ping as fast as acknowledgements come back; each ping is labelled by its User-Agent."""
            sent = 0
            while True:
                label = f"crash/{number}/{sent}"
                url = f"{server.base_url}/v1/heartbeats/{tokens[sent % 2]}/ping"
                sent += 1
                try:
                    async with session.post(url, headers={"User-Agent": label}) as response:
                        body = await response.json()
                except (aiohttp.ClientError, TimeoutError):
                    if killed:
                        return sent
                    raise
                assert (response.status, body) == (200, {"status": "ok"})
                acked.add(label)
                if len(acked) >= TARGET_ACKS:
                    enough.set()

        tasks = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
        with contextlib.suppress(TimeoutError):  # a slow machine: kill with what it managed (asserted below)
            await asyncio.wait_for(enough.wait(), timeout=MAX_LOAD_SECS)
        killed = True
        await server.kill()  # while every client still has a ping in flight
        sent = sum(await asyncio.gather(*tasks))

    assert len(acked) >= 200, f"only {len(acked)} pings acknowledged before the kill"
    assert sent > len(acked)  # some pings were in flight at the kill and were never acknowledged

    async with running(db, tmp_path) as restarted, aiohttp.ClientSession() as session:
        stored = await asyncio.to_thread(stored_user_agents, db)
        lost = acked - stored
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged pings lost, e.g. {sorted(lost)[:5]}"
        # The restarted server carries on from the recovered state.
        async with session.get(f"{restarted.base_url}/v1/heartbeats", headers=auth) as r:
            heartbeats = (await r.json())["heartbeats"]
        assert [h["status"] for h in heartbeats] == ["active", "active"]
        assert all(h["last_pinged_at"] is not None for h in heartbeats)
        async with session.post(f"{restarted.base_url}/v1/heartbeats/{tokens[0]}/ping") as r:
            assert (r.status, await r.json()) == (200, {"status": "ok"})
        await restarted.stop()
