"""The console as a user starts it: `python -m tickstem_tui` in a real terminal (tmux), seen through capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (Debian package tmux)")


class Tmux:
    """One detached tmux session on a private server socket, so it never touches the user's tmux."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.session = f"t{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=True, timeout=10
        )
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def wait_for(self, check: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"screen never matched; last screen:\n{text}")
            time.sleep(0.1)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    session = Tmux(tmp_path / "tmux.sock")
    yield session
    subprocess.run(["tmux", "-S", str(session.socket), "kill-server"], capture_output=True, timeout=10)


def test_the_installed_cli_shows_the_overview_and_q_quits(tmux: Tmux, tmp_path: Path) -> None:
    db = tmp_path / "console.sqlite3"
    done = tmp_path / "exit-status"
    env = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
    }
    exports = " ".join(f"{name}={value}" for name, value in env.items())
    command = f"{sys.executable} -m tickstem_tui --port 0 --db {db}"
    # The shell records the exit status and stays open, so the final screen can be read after the app left.
    # COLUMNS/LINES set by the test runner would override the terminal's real size, so they go.
    shell = f"cd {os.getcwd()} && env -u COLUMNS -u LINES {exports} {command}; echo $? > {done}; sleep 60"
    tmux.run("new-session", "-d", "-x", "120", "-y", "40", "-s", tmux.session, shell)

    # The first frames may be half drawn; wait for the whole overview.
    screen = tmux.wait_for(lambda text: "No problems" in text and "Quit" in text and "serving http" in text)
    assert "1 Overview" in screen and "5 Verify" in screen and "Recent events" in screen
    assert "serving http://127.0.0.1:" in screen

    tmux.run("send-keys", "-t", tmux.session, "2")
    tmux.wait_for(lambda text: "No jobs yet" in text)

    tmux.run("send-keys", "-t", tmux.session, "q")
    deadline = time.monotonic() + 20
    while not done.exists():
        assert time.monotonic() < deadline, f"the process did not exit; screen:\n{tmux.screen()}"
        time.sleep(0.1)
    assert done.read_text().strip() == "0"
    after = tmux.wait_for(lambda text: "owner API key (shown once" in text)
    assert "log file:" in after
    assert db.exists()
