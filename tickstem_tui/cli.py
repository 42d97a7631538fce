"""Command line: `serve` (headless), `keys` (API keys); with no command, the console."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tickstem_tui import __version__
from tickstem_tui.config import ConfigError, Settings, load_settings


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8090; 0 picks a free one)")
    _db_option(parser)
    parser.add_argument("--api-key", help="also accept this API key for the owner account (env TICKSTEM_TUI_API_KEY)")


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, help="SQLite database file (default: the user data directory)")
    parser.add_argument("--config", type=Path, help="TOML settings file")


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
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "db_path": getattr(args, "db", None),
        "api_key": getattr(args, "api_key", None),
    }
    return load_settings(overrides, config_file=getattr(args, "config", None))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
    except ConfigError as exc:
        parser.error(str(exc))
    command = args.command or "serve"
    try:
        if command == "serve":
            return asyncio.run(serve(settings))
        if command == "keys":
            return asyncio.run(manage_keys(settings, args))
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {command!r}")
    return 2


async def serve(settings: Settings) -> int:
    """Run headless until SIGINT or SIGTERM, then stop cleanly."""
    from tickstem_tui import logging_setup
    from tickstem_tui.runtime import Runtime

    log_file = logging_setup.configure(to_stderr=True)
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
            await stop.wait()
            print("stopping…", flush=True)
    except OSError as exc:
        print(f"tickstem-tui: cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
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
