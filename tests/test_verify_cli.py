"""`tickstem-tui verify`: addresses from arguments, a file or stdin; table, JSON and CSV output; stored history."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from tests.dns_server import LoopbackDNS
from tickstem_tui.cli import _Progress, main


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.sqlite3"


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TICKSTEM_TUI_"):
            monkeypatch.delenv(name)


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def stored(db: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT email, valid FROM verifications ORDER BY rowid"))


def run(db: Path, dns: LoopbackDNS, *args: str) -> int:
    return main(["verify", "--db", str(db), "--dns-server", dns.address, *args])


def test_table_output_and_exit_status(db: Path, dns_server: LoopbackDNS, capsys: pytest.CaptureFixture[str]) -> None:
    status = run(db, dns_server, "jane@goodmail.com", "admin@goodmail.com", "用户@例子.广告", "x@nomail.org")
    out, err = capsys.readouterr()
    assert status == 1  # one address is not valid
    lines = out.splitlines()
    assert lines[0].split() == ["EMAIL", "VALID", "MX", "DISPOSABLE", "ROLE", "REASON"]
    assert lines[1].split() == ["jane@goodmail.com", "yes", "yes", "no", "no"]
    assert lines[2].split()[:5] == ["admin@goodmail.com", "yes", "yes", "no", "yes"]
    assert lines[2].endswith("role-based address")
    assert lines[4].endswith("domain has no mail server (no MX, A or AAAA record)")
    # Columns line up even with double-width characters.
    email_cells = [re.findall(r"^\S+\s+", line)[0] for line in lines]
    assert len({display_width(cell) for cell in email_cells}) == 1
    assert "verified 4/4" in err and "3 of 4 valid" in err
    # Stored in completion order (addresses are checked concurrently).
    assert sorted(stored(db)) == sorted(
        [("jane@goodmail.com", 1), ("admin@goodmail.com", 1), ("用户@例子.广告", 1), ("x@nomail.org", 0)]
    )

    assert run(db, dns_server, "jane@goodmail.com") == 0  # all valid


def test_json_from_a_file(
    tmp_path: Path, db: Path, dns_server: LoopbackDNS, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("\ufeffjane@goodmail.com\n\n  info@mailinator.com  \r\nuser@@goodmail.com\n", encoding="utf-8")
    status = run(db, dns_server, "--json", "--file", str(listing), "first@aonly.net")
    out, err = capsys.readouterr()
    results = json.loads(out)
    assert status == 1
    assert [r["email"] for r in results] == [
        "first@aonly.net",
        "jane@goodmail.com",
        "info@mailinator.com",
        "user@@goodmail.com",
    ]
    assert [r["valid"] for r in results] == [True, True, False, False]
    assert results[2]["disposable"] and results[2]["role_based"] and results[2]["reason"] == "disposable email provider"
    assert results[3]["reason"].startswith("invalid syntax:")
    assert all(r["id"].startswith("ver_") and r["created_at"].endswith("Z") for r in results)
    assert "verified 4/4" in err


def test_csv_output(db: Path, dns_server: LoopbackDNS, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(db, dns_server, "--csv", "a@goodmail.com", "b@no-such-domain.com") == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["email"], r["valid"], r["mx_found"], r["reason"]) for r in rows] == [
        ("a@goodmail.com", "true", "true", ""),
        ("b@no-such-domain.com", "false", "false", "domain does not exist"),
    ]


def test_dns_timeout_setting_applies(
    db: Path, dns_server: LoopbackDNS, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKSTEM_TUI_DNS_TIMEOUT_SECS", "0.3")
    started = time.monotonic()
    assert run(db, dns_server, "--json", "a@slow.net", "b@slow.net") == 1
    assert time.monotonic() - started < 2
    results = json.loads(capsys.readouterr().out)
    assert {r["reason"] for r in results} == {
        "DNS lookup timed out after 0.3 s; could not confirm the domain accepts mail"
    }


def test_a_thousand_line_file(
    tmp_path: Path, db: Path, dns_server: LoopbackDNS, capsys: pytest.CaptureFixture[str]
) -> None:
    domains = ["goodmail.com", "aonly.net", "nomail.org", "mailinator.com", "no-such-domain.com"]
    listing = tmp_path / "big.txt"
    listing.write_text("".join(f"user{i}@{domains[i % 5]}\n" for i in range(1000)))
    started = time.monotonic()
    assert run(db, dns_server, "--csv", "--file", str(listing)) == 1
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1000 and sum(r["valid"] == "true" for r in rows) == 400
    assert elapsed < 20
    assert dns_server.count() <= 3 * len(domains)
    assert len(stored(db)) == 1000
    assert err.count("verified ") == 10  # a line every tenth of the way when stderr is not a terminal


@pytest.mark.parametrize(
    "args",
    [
        ["verify"],
        ["verify", "--file", "/nonexistent/list.txt"],
        ["verify", "--json", "--csv", "a@goodmail.com"],
        ["verify", "--dns-server", "resolver.lan", "a@goodmail.com"],
        ["verify", "--concurrency", "0", "a@goodmail.com"],
    ],
)
def test_usage_errors(db: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--db", str(db)])
    assert exit_info.value.code == 2
    assert "tickstem-tui" in capsys.readouterr().err
    assert not db.exists() or stored(db) == []


def test_a_file_that_is_not_utf8_is_a_usage_error(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = tmp_path / "latin1.txt"
    listing.write_bytes("josé@goodmail.com\n".encode("latin-1"))
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--file", str(listing), "--db", str(db)])
    assert exit_info.value.code == 2 and "cannot read" in capsys.readouterr().err


def test_the_real_command_reads_stdin(db: Path, dns_server: LoopbackDNS) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTEM_TUI_")}
    command = [sys.executable, "-m", "tickstem_tui", "verify", "--db", str(db), "--dns-server", dns_server.address]
    done = subprocess.run(
        [*command, "--json", "--file", "-"],
        input="jane@goodmail.com\nsales@goodmail.com\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [r["role_based"] for r in json.loads(done.stdout)] == [False, True]
    assert "verified 2/2" in done.stderr


def test_progress_bar_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = _Progress(200, screen)
    for done in range(1, 201):
        bar(done, 200)
    text = screen.getvalue()
    # Redrawn in place (throttled), always ending on the full bar and a newline.
    assert text.startswith("\rverifying [") and text.endswith(f"[{'#' * 30}] 200/200\n")
    assert text.count("\r") < 200
