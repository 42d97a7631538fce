"""The SQLite connection pair: every mutation through one queued writer, reads on their own connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteFn = Callable[[aiosqlite.Connection], Awaitable[T]]
SyncWriteFn = Callable[[sqlite3.Connection], T]
Params = Sequence[Any] | dict[str, Any]

MAX_BATCH = 512
"""Most queued writes committed together; bounds how long one batch holds the write lock."""
QUEUE_LIMIT = 20_000
"""Writers wait (back-pressure) rather than queue without bound."""


@dataclass(slots=True)
class _WriteRequest:
    fn: WriteFn[Any] | None
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    sync_fn: SyncWriteFn[Any] | None = None
    """Set instead of `fn` by write_sync(): a plain function run on the writer connection's own thread."""


def _run_on_thread(conn: sqlite3.Connection, fns: list[SyncWriteFn[Any]]) -> list[tuple[bool, Any]]:
    """Runs in aiosqlite's worker thread: each function in its own savepoint, all in one thread hop."""
    outcomes: list[tuple[bool, Any]] = []
    for fn in fns:
        conn.execute("SAVEPOINT w")
        try:
            outcomes.append((True, fn(conn)))
        except Exception as exc:
            outcomes.append((False, exc))
            conn.execute("ROLLBACK TO w")
        conn.execute("RELEASE w")
    return outcomes


def _transaction_on_thread(conn: sqlite3.Connection, fns: list[SyncWriteFn[Any]]) -> list[tuple[bool, Any]]:
    """A whole batch of plain functions, BEGIN to COMMIT, in one thread hop."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes = _run_on_thread(conn, fns)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
    return outcomes


_CLOSE = object()


async def _configure(conn: aiosqlite.Connection) -> None:
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")


class Database:
    """Owns the connections. `write()` returns only after the change is committed (durable in WAL)."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._queue: asyncio.Queue[_WriteRequest | object] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.batched_writes = 0

    @classmethod
    async def open(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            await _configure(writer)
            await migrate(writer)
            reader = await aiosqlite.connect(path, isolation_level=None)
            await _configure(reader)
        except BaseException:
            await writer.close()
            raise
        db = cls(path, writer, reader)
        db._task = asyncio.create_task(db._write_loop(), name="sqlite-writer")
        return db

    async def close(self) -> None:
        """Commit everything already queued, then close both connections."""
        if self._task is not None:
            await self._queue.put(_CLOSE)
            await self._task
            self._task = None
        await self._reader.close()
        await self._writer.close()

    # -- reads -------------------------------------------------------------------------------
    # One thread round trip per read: aiosqlite's cursor API costs three (execute, fetch, close), and
    # each round trip (~50-130 us) costs more than a primary-key lookup itself.
    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = await self._on_reader(_fetch_all, sql, params)
        return rows

    async def fetch_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = await self._on_reader(_fetch_one, sql, params)
        return row

    async def fetch_value(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else row[0]

    # -- writes ------------------------------------------------------------------------------
    async def write(self, fn: WriteFn[T]) -> T:
        """Run `fn` on the write connection inside a transaction; return after it is committed."""
        if self._task is None or self._task.done():
            raise RuntimeError("database is closed")
        request = _WriteRequest(fn)
        await self._queue.put(request)
        result: T = await asyncio.shield(request.future)
        return result

    async def write_sync(self, fn: SyncWriteFn[T]) -> T:
        """Like `write()`, for a plain function given the raw sqlite3 connection on the writer's thread.

        Each awaited statement of `write()` costs a thread round trip (~0.1-0.3 ms); a run of queued
        `write_sync` functions costs one in all, so hot paths (heartbeat pings) batch for real.
        The function must not block on anything but SQLite and must not touch the event loop.
        """
        if self._task is None or self._task.done():
            raise RuntimeError("database is closed")
        request = _WriteRequest(None, sync_fn=fn)
        await self._queue.put(request)
        result: T = await asyncio.shield(request.future)
        return result

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement as its own write; returns the number of rows changed."""

        async def run(conn: aiosqlite.Connection) -> int:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

        return await self.write(run)

    async def execute_many(self, sql: str, rows: Iterable[Params]) -> None:
        batch = list(rows)

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.executemany(sql, batch)

        await self.write(run)

    async def _write_loop(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
            batch: list[_WriteRequest] = []
            if first is _CLOSE:
                closing = True
            else:
                assert isinstance(first, _WriteRequest)
                batch.append(first)
            # Group commit: whatever queued up while the previous batch committed goes in together.
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _CLOSE:
                    closing = True
                    continue
                assert isinstance(item, _WriteRequest)
                batch.append(item)
            if batch:
                await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_WriteRequest]) -> None:
        conn = self._writer
        try:
            if all(request.sync_fn is not None for request in batch):
                # Only plain functions queued (the ping path): BEGIN to COMMIT in a single thread hop.
                outcomes = await self._on_thread(_transaction_on_thread, _sync_fns(batch))
            else:
                await conn.execute("BEGIN IMMEDIATE")
                outcomes = await self._run_mixed(batch)
                await conn.execute("COMMIT")
        except Exception as exc:
            log.exception("write batch of %d failed", len(batch))
            with contextlib.suppress(Exception):
                await conn.execute("ROLLBACK")
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        self.batches += 1
        self.batched_writes += len(batch)
        for request, (ok, value) in zip(batch, outcomes, strict=True):
            if request.future.done():
                continue
            if ok:
                request.future.set_result(value)
            else:
                request.future.set_exception(value)

    async def _run_mixed(self, batch: list[_WriteRequest]) -> list[tuple[bool, Any]]:
        conn = self._writer
        outcomes: list[tuple[bool, Any]] = []
        single = len(batch) == 1
        index = 0
        while index < len(batch):
            request = batch[index]
            if request.sync_fn is not None:
                # A run of plain functions goes to the writer's thread in one hop, each in its own savepoint.
                end = index
                while end < len(batch) and batch[end].sync_fn is not None:
                    end += 1
                outcomes.extend(await self._on_thread(_run_on_thread, _sync_fns(batch[index:end])))
                index = end
                continue
            index += 1
            assert request.fn is not None
            if single:
                try:
                    outcomes.append((True, await request.fn(conn)))
                except Exception as exc:
                    outcomes.append((False, exc))
                    await conn.execute("ROLLBACK")
                    await conn.execute("BEGIN IMMEDIATE")
                continue
            # Each write in a shared batch gets a savepoint, so one failure cannot undo the others.
            await conn.execute("SAVEPOINT w")
            try:
                outcomes.append((True, await request.fn(conn)))
            except Exception as exc:
                outcomes.append((False, exc))
                await conn.execute("ROLLBACK TO w")
            await conn.execute("RELEASE w")
        return outcomes

    async def _on_reader(self, fn: Callable[[sqlite3.Connection, str, Params], T], sql: str, params: Params) -> T:
        reader = self._reader
        result: T = await reader._execute(fn, reader._conn, sql, params)  # type: ignore[no-untyped-call]
        return result

    async def _on_thread(
        self,
        runner: Callable[[sqlite3.Connection, list[SyncWriteFn[Any]]], list[tuple[bool, Any]]],
        fns: list[SyncWriteFn[Any]],
    ) -> list[tuple[bool, Any]]:
        # aiosqlite has no public "run this on the connection's thread"; _execute is how it runs its own calls.
        writer = self._writer
        outcomes: list[tuple[bool, Any]] = await writer._execute(runner, writer._conn, fns)  # type: ignore[no-untyped-call]
        return outcomes


def _fetch_all(conn: sqlite3.Connection, sql: str, params: Params) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _fetch_one(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Row | None:
    cursor = conn.execute(sql, params)
    try:
        row: sqlite3.Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()  # a query with more rows must not hold its read snapshot open


def _sync_fns(requests: list[_WriteRequest]) -> list[SyncWriteFn[Any]]:
    return [request.sync_fn for request in requests if request.sync_fn is not None]


def _migration_scripts() -> list[tuple[int, str, str]]:
    folder = resources.files("tickstem_tui.store") / "migrations"
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            scripts.append((number, entry.name, entry.read_text()))
    scripts.sort()
    numbers = [n for n, _, _ in scripts]
    if len(set(numbers)) != len(numbers) or (numbers and numbers[0] < 1):
        raise RuntimeError(f"migration numbers must be unique and start at 1, found {numbers}")
    return scripts


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply the SQL migrations newer than `PRAGMA user_version`, each in its own transaction."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    scripts = _migration_scripts()
    latest = scripts[-1][0] if scripts else 0
    if current > latest:
        raise RuntimeError(f"database schema version {current} is newer than this tickstem-tui ({latest}); upgrade it")
    for number, name, sql in scripts:
        if number <= current:
            continue
        log.info("applying migration %s", name)
        await conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    return latest
