"""The command line as a user runs it: `serve` in a real process, restart, signals, and `keys`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tickstem import APIError, CronClient, CronRegisterParams

from tickstem_tui import __version__

CLI = [sys.executable, "-m", "tickstem_tui"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONUNBUFFERED": "1",
    }


class Server:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "serve", "--port", "0", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl+C"):
                break
        else:
            raise AssertionError(f"server did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")
        match = re.search(r"serving on (http://\S+)", self.lines[0])
        assert match, self.lines
        self.url = match.group(1)

    @property
    def first_key(self) -> str | None:
        for line in self.lines:
            if "owner API key" in line:
                return line.rsplit(" ", 1)[1]
        return None

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=15)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return code


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


def test_help_and_version() -> None:
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True).stdout
    assert "serve" in out and "keys" in out
    version = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip() == f"tickstem-tui {__version__}"


def test_serve_persists_jobs_and_history_across_a_restart(
    tmp_path: Path, env: dict[str, str], servers: list[Server]
) -> None:
    db = tmp_path / "t.sqlite3"
    first = Server(["--db", str(db)], env)
    servers.append(first)
    key = first.first_key
    assert key is not None and key.startswith("tsk_live_")
    assert first.url.startswith("http://127.0.0.1:")

    with CronClient(key, base_url=f"{first.url}/v1") as cron:
        job = cron.register(CronRegisterParams("nightly", "0 2 * * *", f"{first.url}/healthz", method="GET"))
        response = httpx.post(f"{first.url}/v1/jobs/{job.id}/trigger", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 202
        deadline = time.monotonic() + 10
        while not (runs := cron.executions(job.id)) or runs[0].status == "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert runs[0].status == "success" and runs[0].status_code == 200
    assert first.stop(signal.SIGTERM) == 0

    second = Server(["--db", str(db)], env)
    servers.append(second)
    assert second.first_key is None  # shown once, on the first start only
    with CronClient(key, base_url=f"{second.url}/v1") as cron:
        [again] = cron.list()
        assert (again.id, again.schedule) == (job.id, "0 2 * * *")
        [run] = cron.executions(job.id)
        assert (run.id, run.status, run.status_code) == (runs[0].id, "success", 200)
    assert second.stop(signal.SIGINT) == 0


def test_api_key_flag_and_keys_commands(tmp_path: Path, env: dict[str, str], servers: list[Server]) -> None:
    db = str(tmp_path / "k.sqlite3")
    created = subprocess.run(
        [*CLI, "keys", "create", "--name", "deploy", "--db", db], env=env, capture_output=True, text=True, check=True
    )
    key_id, name = re.match(r"created (key_\w+) \((\w+)\)", created.stdout).groups()  # type: ignore[union-attr]
    deploy_key = created.stdout.splitlines()[1]
    assert name == "deploy" and "cannot be shown again" in created.stderr

    server = Server(["--db", db, "--api-key", "my-script-key"], env)
    servers.append(server)
    for key in (deploy_key, "my-script-key"):
        with CronClient(key, base_url=f"{server.url}/v1") as cron:
            assert cron.list() == []

    listing = subprocess.run(
        [*CLI, "keys", "list", "--db", db], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert key_id in listing and "deploy" in listing and deploy_key not in listing and "my-script-key" not in listing
    stored = subprocess.run(["grep", "-c", deploy_key, db], capture_output=True, text=True)
    assert stored.stdout.strip() == "0"  # hashed at rest

    subprocess.run([*CLI, "keys", "revoke", key_id, "--db", db], env=env, check=True, capture_output=True)
    with CronClient(deploy_key, base_url=f"{server.url}/v1") as cron, pytest.raises(APIError) as err:
        cron.list()
    assert err.value.status == 401  # revocation reaches the running server at once
    missing = subprocess.run([*CLI, "keys", "revoke", "key_nope", "--db", db], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "no active API key" in missing.stderr


def test_serve_reports_a_busy_port(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [*CLI, "serve", "--port", str(port), "--db", str(tmp_path / "b.sqlite3")],
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert result.returncode == 1 and "cannot start" in result.stderr


def test_bad_settings_are_refused(tmp_path: Path, env: dict[str, str]) -> None:
    result = subprocess.run([*CLI, "serve", "--port", "70000"], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "port must be 0-65535" in result.stderr
