"""Command line: `serve` (headless), `keys` (API keys), `verify` (email addresses); with no command, the console."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import signal
import sys
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tickstem_tui import __version__
from tickstem_tui.config import ConfigError, Settings, load_settings

SHARED = argparse.SUPPRESS
"""Options accepted before and after the command: unset ones stay absent, so neither copy overwrites the other."""


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=SHARED, help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=SHARED, help="port to listen on (default 8090; 0 picks a free one)")
    _db_option(parser)
    parser.add_argument(
        "--api-key", default=SHARED, help="also accept this API key for the owner account (env TICKSTEM_TUI_API_KEY)"
    )
    _dns_option(parser)


def _dns_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dns-server",
        metavar="HOST:PORT",
        default=SHARED,
        help="DNS server for email MX lookups (default: the system's resolvers)",
    )


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, default=SHARED, help="SQLite database file (default: the user data directory)"
    )
    parser.add_argument("--config", type=Path, default=SHARED, help="TOML settings file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickstem-tui",
        description="A local monitoring console: cron jobs, uptime monitors, heartbeats, email checks.",
    )
    parser.add_argument("--version", action="version", version=f"tickstem-tui {__version__}")
    _server_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server and every service without the UI")
    _server_options(serve)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    key_list = key_commands.add_parser("list", help="list API keys (hints only; keys are stored hashed)")
    _db_option(key_list)
    key_create = key_commands.add_parser("create", help="create a key; it is shown once")
    key_create.add_argument("--name", default="cli", help="a label to recognise the key by")
    _db_option(key_create)
    key_revoke = key_commands.add_parser("revoke", help="revoke a key by its id")
    key_revoke.add_argument("key_id")
    _db_option(key_revoke)

    shots = commands.add_parser("screenshots", help="write SVG screenshots of each console screen (sample data)")
    shots.add_argument(
        "--out", type=Path, default=Path("screenshots"), help="folder to write to (default screenshots/)"
    )

    verify = commands.add_parser(
        "verify",
        help="verify email addresses (syntax, MX, disposable, role-based) without starting the server",
        description="Verify email addresses and store the results in the history. Exit status: 0 when every "
        "address is valid, 1 when any is not, 2 on a usage error.",
    )
    verify.add_argument("addresses", nargs="*", metavar="ADDRESS", help="addresses to verify")
    verify.add_argument("--file", type=Path, help="read addresses from FILE, one a line ('-' for standard input)")
    output = verify.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the results as a JSON array")
    output.add_argument("--csv", action="store_true", help="print the results as CSV with a header row")
    verify.add_argument("--concurrency", type=int, default=64, help="addresses checked at once (default 64)")
    _dns_option(verify)
    _db_option(verify)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "db_path": getattr(args, "db", None),
        "api_key": getattr(args, "api_key", None),
        "dns_server": getattr(args, "dns_server", None),
    }
    return load_settings(overrides, config_file=getattr(args, "config", None))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        parser.error(str(exc))
    command = args.command or "console"
    try:
        if command == "console":
            return asyncio.run(console(settings))
        if command == "screenshots":
            return asyncio.run(screenshots(args.out))
        if command == "serve":
            return asyncio.run(serve(settings))
        if command == "keys":
            return asyncio.run(manage_keys(settings, args))
        if command == "verify":
            try:
                addresses = _read_addresses(args)
            except (OSError, UnicodeDecodeError) as exc:
                parser.error(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
            if not addresses:
                parser.error("give at least one ADDRESS or a --file with addresses in it")
            if args.concurrency < 1:
                parser.error("--concurrency must be at least 1")
            return asyncio.run(verify_addresses(settings, args, addresses))
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {command!r}")
    return 2


async def serve(settings: Settings) -> int:
    """Run headless until SIGINT or SIGTERM, then stop cleanly."""
    from tickstem_tui import heap, logging_setup
    from tickstem_tui.runtime import Runtime

    log_file = logging_setup.configure(to_stderr=True)
    heap.configure()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Runtime(settings) as runtime:
            base = runtime.base_url
            print(f"tickstem-tui {__version__} serving on {base}")
            print(f"  Tickstem SDK base URL: {base}/v1")
            print(f"  CronSafe base URL:     {base}")
            print(f"  database: {settings.db_path}")
            print(f"  log file: {log_file}")
            if runtime.first_api_key:
                print(f"  owner API key (shown once; stored hashed): {runtime.first_api_key}")
            print("Press Ctrl+C to stop.", flush=True)
            heap.settle()
            await stop.wait()
            print("stopping…", flush=True)
    except OSError as exc:
        print(f"tickstem-tui: cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


async def console(settings: Settings) -> int:
    """The console: runtime, HTTP server and Textual app in one loop; quitting (or SIGTERM) stops them all."""
    from tickstem_tui import heap, logging_setup
    from tickstem_tui.runtime import Runtime
    from tickstem_tui.tui.app import TickstemApp

    log_file = logging_setup.configure(to_stderr=False)
    heap.configure()
    loop = asyncio.get_running_loop()
    try:
        async with Runtime(settings) as runtime:
            app = TickstemApp(
                runtime.services,
                server_url=runtime.base_url,
                api_key=runtime.first_api_key or settings.api_key,
                reveal_key=runtime.first_api_key is not None,
            )
            loop.add_signal_handler(signal.SIGTERM, app.exit)
            try:
                await app.run_async()
            finally:
                loop.remove_signal_handler(signal.SIGTERM)
            first_key = runtime.first_api_key
    except OSError as exc:
        print(f"tickstem-tui: cannot start: {exc}", file=sys.stderr)
        return 1
    if first_key:
        # Only its hash is stored: this is the last chance to see the key that was created on first start.
        print(f"owner API key (shown once; stored hashed): {first_key}")
    print(f"log file: {log_file}")
    return app.return_code or 0


async def screenshots(out: Path) -> int:
    """Write an SVG of each console screen over the sample data (fake clock, fixed ids)."""
    from tickstem_tui.showcase import write_screenshots

    for path in await write_screenshots(out):
        print(path)
    return 0


async def manage_keys(settings: Settings, args: argparse.Namespace) -> int:
    from tickstem_tui.clock import SystemClock
    from tickstem_tui.domain.errors import NotFound
    from tickstem_tui.domain.times import rfc3339
    from tickstem_tui.services.accounts import AccountService
    from tickstem_tui.store.accounts import AccountRepository
    from tickstem_tui.store.database import Database

    db = await Database.open(settings.db_path)
    try:
        accounts = AccountService(AccountRepository(db), SystemClock())
        await accounts.repo.ensure_owner(SystemClock().now())
        if args.keys_command == "create":
            key, record = await accounts.create_key(args.name)
            print(f"created {record.id} ({record.name})")
            print(key)
            print("Store it now: only its hash is kept, it cannot be shown again.", file=sys.stderr)
        elif args.keys_command == "list":
            print(f"{'ID':22} {'NAME':24} {'HINT':16} {'CREATED':22} STATUS")
            for item in await accounts.list_keys():
                state = f"revoked {rfc3339(item.revoked_at)}" if item.revoked_at else "active"
                print(f"{item.id:22} {item.name[:24]:24} {item.hint:16} {rfc3339(item.created_at):22} {state}")
        elif args.keys_command == "revoke":
            try:
                await accounts.revoke_key(args.key_id)
            except NotFound as exc:
                print(f"tickstem-tui: {exc.message}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
    finally:
        await db.close()
    return 0


def _read_addresses(args: argparse.Namespace) -> list[str]:
    """Command-line addresses, then the file's (one a line, blank lines skipped), in order."""
    lines: list[str] = list(args.addresses)
    if args.file is not None:
        if str(args.file) == "-":
            lines.extend(sys.stdin.read().splitlines())
        else:
            lines.extend(args.file.read_text(encoding="utf-8-sig").splitlines())
    return [line.strip() for line in lines if line.strip()]


class _Progress:
    """A bar redrawn in place on a terminal; on a pipe or file, a line every tenth of the way."""

    def __init__(self, total: int, stream: Any) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.step = max(1, total // 10)
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            now = time.monotonic()
            if done < total and now - self.last_draw < 0.1:
                return
            self.last_draw = now
            filled = 30 * done // total
            self.stream.write(f"\rverifying [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
            if done == total:
                self.stream.write("\n")
        elif done % self.step == 0 or done == total:
            self.stream.write(f"verified {done}/{total}\n")
        self.stream.flush()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(rows: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


async def verify_addresses(settings: Settings, args: argparse.Namespace, addresses: list[str]) -> int:
    """Run the verifier on the database directly (no server needed); results in input order."""
    from tickstem_tui.clock import SystemClock
    from tickstem_tui.domain.verification import verification_to_dict
    from tickstem_tui.services.verifier import Verifier
    from tickstem_tui.store.accounts import OWNER_ACCOUNT_ID, AccountRepository
    from tickstem_tui.store.database import Database
    from tickstem_tui.store.verifications import VerificationRepository

    clock = SystemClock()
    db = await Database.open(settings.db_path)
    try:
        await AccountRepository(db).ensure_owner(clock.now())
        verifier = Verifier(db, VerificationRepository(db), clock, settings)
        progress = _Progress(len(addresses), sys.stderr)
        try:
            # Unmetered: the monthly quota emulates the hosted plan for API callers, not the owner's own tool.
            results = await verifier.verify_many(
                OWNER_ACCOUNT_ID, addresses, metered=False, concurrency=args.concurrency, progress=progress
            )
        finally:
            await verifier.close()
    finally:
        await db.close()

    if args.json:
        print(json.dumps([verification_to_dict(r) for r in results], ensure_ascii=False, indent=2))
    elif args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["email", "valid", "mx_found", "disposable", "role_based", "reason", "id", "created_at"])
        for r in results:
            flags = [str(flag).lower() for flag in (r.valid, r.mx_found, r.disposable, r.role_based)]
            writer.writerow([r.email, *flags, r.reason, r.id, verification_to_dict(r)["created_at"]])
    else:
        rows = [["EMAIL", "VALID", "MX", "DISPOSABLE", "ROLE", "REASON"]]
        for r in results:
            flags = ["yes" if flag else "no" for flag in (r.valid, r.mx_found, r.disposable, r.role_based)]
            rows.append([r.email, *flags, r.reason])
        print(_table(rows))
        valid = sum(r.valid for r in results)
        print(f"{valid} of {len(results)} valid", file=sys.stderr)
    return 0 if all(r.valid for r in results) else 1
