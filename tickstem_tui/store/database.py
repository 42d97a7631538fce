"""The SQLite connections: every mutation through one queued writer, reads and checkpoints on their own."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

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
MAX_QUICK_BATCH = 64
"""Most quick writes committed on the loop's thread at once: bounds how long the loop is held (~2 ms)."""
BUSY_WAIT_SECS = 5.0
"""How long the writer's thread waits for another process's write lock before a batch fails."""
CHECKPOINT_EVERY_SECS = 0.5
"""How often the WAL is copied into the database file while writes keep coming."""


class Versioned(NamedTuple, Generic[T]):
    """A row as a domain object, with the row's version: compare-and-set writes name the version they saw.

    Tables with a `version` column raise it on every change (a trigger raises it for writers that do not).
    """

    value: T
    version: int


@functools.lru_cache(maxsize=256)
def _version_update_sql(table: str, columns: tuple[str, ...]) -> str:
    """`UPDATE table SET columns…, version + 1` for the row with a given id still at a given version."""
    assignments = "".join(f"{column} = ?, " for column in columns)
    return f"UPDATE {table} SET {assignments}version = version + 1 WHERE id = ? AND version = ?"


ColumnCodec = Callable[[Any], object] | None
"""How a domain attribute becomes its column's value (None: stored as it is; None values always are)."""


def enum_value(member: Enum) -> object:
    return member.value


def update_changed_at_version(
    conn: sqlite3.Connection,
    table: str,
    columns: Sequence[tuple[str, ColumnCodec]],
    after: Any,
    row: Versioned[Any],
    also: Sequence[tuple[str, object]] = (),
) -> bool:
    """Compare-and-set of `after` over `row`, writing only the columns whose attribute differs from the row's.

    Each column is named as its domain attribute. An unchanged column costs SQLite nothing to skip, and a
    ping changes four of nine: ~5 µs of the update's ~11 here. With nothing changed the version is still
    raised, so a success still proves the row current. `also` names storage-only columns written every time.
    """
    before = row.value
    names: list[str] = []
    values: list[object] = []
    for name, codec in columns:
        value = getattr(after, name)
        if value != getattr(before, name):
            names.append(name)
            values.append(value if codec is None or value is None else codec(value))
    for name, value in also:
        names.append(name)
        values.append(value)
    sql = _version_update_sql(table, tuple(names))
    return conn.execute(sql, (*values, before.id, row.version)).rowcount == 1


class Transaction:
    """One write transaction: what its write functions tell each other, and what runs once it is committed.

    A function that remembers a row it wrote for later callers (a cache of committed rows) must not publish
    it before the commit: `after_commit` does that, and nothing registered by a transaction that rolls
    back ever runs. `memo` carries uncommitted rows between the functions of the same transaction.
    """

    __slots__ = ("_after_commit", "memo")

    def __init__(self) -> None:
        self.memo: dict[Any, Any] = {}
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def mark(self) -> int:
        return len(self._after_commit)

    def undo_to(self, mark: int) -> None:
        """A write rolled back to its savepoint: drop what it registered (and the memo, which is only a shortcut)."""
        del self._after_commit[mark:]
        self.memo.clear()

    def committed(self) -> None:
        for fn in self._after_commit:
            try:
                fn()
            except Exception:
                log.exception("after-commit callback failed")
        self._after_commit.clear()


@dataclass(slots=True)
class _WriteRequest:
    fn: WriteFn[Any] | None
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    sync_fn: SyncWriteFn[Any] | None = None
    """Set instead of `fn` by write_sync(): a plain function run on the writer connection's own thread."""
    quick: bool = False
    """The caller promises `sync_fn` is a few indexed statements: it may run on the loop's thread."""


def _each_in_savepoint(
    conn: sqlite3.Connection, fns: list[SyncWriteFn[Any]], transaction: Transaction
) -> list[tuple[bool, Any]]:
    """Each function in its own savepoint, so that one failing undoes only itself."""
    outcomes: list[tuple[bool, Any]] = []
    for fn in fns:
        conn.execute("SAVEPOINT w")
        mark = transaction.mark()
        try:
            outcomes.append((True, fn(conn)))
        except Exception as exc:
            outcomes.append((False, exc))
            conn.execute("ROLLBACK TO w")
            transaction.undo_to(mark)
        conn.execute("RELEASE w")
    return outcomes


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _begin_now(conn: sqlite3.Connection) -> bool:
    """BEGIN IMMEDIATE without waiting: False if another connection holds the write lock."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            return False
        raise
    return True


def _begin_waiting(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE on the writer's thread, waiting up to BUSY_WAIT_SECS for another process's lock.

    The writer connection has no busy timeout of its own so that the loop's thread never waits on a lock.
    """
    deadline = time.monotonic() + BUSY_WAIT_SECS
    pause = 0.001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextlib.contextmanager
def _rolled_back_on_error(conn: sqlite3.Connection) -> Iterator[None]:
    """Around a transaction already begun: anything raised undoes it all."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise


def _transaction_on_thread(
    conn: sqlite3.Connection, fns: list[SyncWriteFn[Any]], transaction: Transaction
) -> list[tuple[bool, Any]]:
    """A whole batch of plain functions, BEGIN to COMMIT, in one thread hop."""
    _begin_waiting(conn)
    with _rolled_back_on_error(conn):
        outcomes = _each_in_savepoint(conn, fns, transaction)
        conn.execute("COMMIT")
    return outcomes


_CLOSE = object()


async def _configure(conn: aiosqlite.Connection, *, writer: bool = False) -> None:
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    if writer:
        # The writer may commit on the loop's thread (quick batches), so it must never wait there: no busy
        # timeout (the thread path waits in _begin_waiting) and no automatic checkpoint (it fsyncs; see
        # _checkpoint_in_two_steps).
        await conn.execute("PRAGMA busy_timeout=0")
        await conn.execute("PRAGMA wal_autocheckpoint=0")
    else:
        await conn.execute(f"PRAGMA busy_timeout={int(BUSY_WAIT_SECS * 1000)}")


class Database:
    """Owns the connections. `write()` returns only after the change is committed (durable in WAL).

    writer: every mutation, in order (aiosqlite's thread, or the loop's for quick batches);
    reader: reads on aiosqlite's thread; quick reader: indexed reads on the loop's thread, never waiting;
    checkpointer: copies the WAL into the database file on its own thread.
    """

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        checkpointer: aiosqlite.Connection,
        quick_reader: sqlite3.Connection,
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._checkpointer = checkpointer
        self._quick_reader = quick_reader
        self._queue: asyncio.Queue[_WriteRequest | object] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self._side_checkpoint: asyncio.Task[None] | None = None
        self._transaction = Transaction()
        self._wrote_since_checkpoint = False
        self._last_checkpoint = time.monotonic()
        self.batches = 0
        self.batched_writes = 0
        self.quick_batches = 0
        """Batches committed on the loop's thread (the rest took a hop to the writer's thread)."""
        self.checkpoints = 0

    @classmethod
    async def open(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: quick batches use the writer from the loop's thread, while the write
        # loop (one task) guarantees the connection is never used by both threads at once.
        writer = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
        opened = [writer]
        try:
            await _configure(writer)
            await migrate(writer)
            await _configure(writer, writer=True)
            reader = await aiosqlite.connect(path, isolation_level=None)
            opened.append(reader)
            await _configure(reader)
            checkpointer = await aiosqlite.connect(path, isolation_level=None)
            opened.append(checkpointer)
            await _configure(checkpointer)
            quick_reader = await asyncio.to_thread(_open_quick_reader, path)
        except BaseException:
            for conn in reversed(opened):
                await conn.close()
            raise
        db = cls(path, writer, reader, checkpointer, quick_reader)
        db._task = asyncio.create_task(db._write_loop(), name="sqlite-writer")
        return db

    async def close(self) -> None:
        """Commit everything already queued, then close the connections (the last one checkpoints)."""
        if self._task is not None:
            await self._queue.put(_CLOSE)
            await self._task
            self._task = None
        if self._side_checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._side_checkpoint
        await self._checkpointer.close()
        await asyncio.to_thread(self._quick_reader.close)
        await self._reader.close()
        await self._writer.close()

    # -- reads -------------------------------------------------------------------------------
    # One thread round trip per read: aiosqlite's cursor API costs three (execute, fetch, close), and
    # each round trip (~50-130 us) costs more than a primary-key lookup itself.
    async def fetch_all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = await self._on_reader(_fetch_all, sql, params)
        return rows

    async def fetch_one(self, sql: str, params: Params = (), *, quick: bool = False) -> sqlite3.Row | None:
        """One row. `quick=True` promises an indexed lookup: it runs on the loop's own thread.

        A primary-key lookup costs a few microseconds; a round trip to the reader's thread costs ~50-130.
        Readers never wait for writers in WAL mode; should this connection ever meet a lock (recovery
        after a crash elsewhere), the read goes to the reader's thread instead of waiting here.
        """
        if quick:
            try:
                return _fetch_one(self._quick_reader, sql, params)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
        row: sqlite3.Row | None = await self._on_reader(_fetch_one, sql, params)
        return row

    async def fetch_value(self, sql: str, params: Params = (), *, quick: bool = False) -> Any:
        row = await self.fetch_one(sql, params, quick=quick)
        return None if row is None else row[0]

    def data_version(self) -> int:
        """A number that changes whenever anything is committed to the database, by this process or another.

        SQLite's `PRAGMA data_version` on a connection that never writes: the key for answers cached
        until the data under them changes.
        """
        try:
            return int(self._quick_reader.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            return -1  # unknown: callers cache nothing under a negative version

    # -- writes ------------------------------------------------------------------------------
    @property
    def transaction(self) -> Transaction:
        """The write transaction now open; only meaningful inside a write function."""
        return self._transaction

    def _new_transaction(self) -> Transaction:
        self._transaction = Transaction()
        return self._transaction

    async def write(self, fn: WriteFn[T]) -> T:
        """Run `fn` on the write connection inside a transaction; return after it is committed."""
        result: T = await self._submit(_WriteRequest(fn))
        return result

    async def write_sync(self, fn: SyncWriteFn[T], *, quick: bool = False) -> T:
        """Like `write()`, for a plain function given the raw sqlite3 connection on the writer's thread.

        Each awaited statement of `write()` costs a thread round trip (~0.1-0.3 ms); a run of queued
        `write_sync` functions costs one in all, so hot paths (heartbeat pings) batch for real.
        The function must not block on anything but SQLite and must not touch the event loop.

        `quick=True` promises a few indexed statements (a ping, a check result). A batch made only of
        quick writes commits on the loop's own thread when the write lock is free: no thread hand-off,
        whose cost (GIL hand-over, wake-ups) is several times the statements'. It never waits there: the
        connection has no busy timeout and no automatic checkpoint, and a busy lock sends the batch to
        the writer's thread. The loop is held for at most MAX_QUICK_BATCH writes and one WAL append.
        A quick write must have no effect outside the connection: a quick batch in which one write fails
        is rolled back and run again with a savepoint per write, so that only that one fails.
        """
        result: T = await self._submit(_WriteRequest(None, sync_fn=fn, quick=quick))
        return result

    async def _submit(self, request: _WriteRequest) -> Any:
        if self._task is None or self._task.done():
            raise RuntimeError("database is closed")
        await self._queue.put(request)
        # Not shielded: a caller cancelled meanwhile cancels only the future; the write loop still runs
        # the write (it is queued) and skips answering a future that is already done.
        return await request.future

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
                if first.quick:
                    # Let the requests that arrived together queue theirs too: ~6 pings per commit instead
                    # of ~3 at 8 connections, for one loop turn of latency.
                    await asyncio.sleep(0)
            # Group commit: whatever queued up while the previous batch committed goes in together.
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is _CLOSE:
                    closing = True
                    continue
                assert isinstance(item, _WriteRequest)
                batch.append(item)
            if batch and all(request.quick for request in batch):
                # Quick writes commit on the loop's thread in slices, letting the loop run between them.
                for start in range(0, len(batch), MAX_QUICK_BATCH):
                    await self._commit_batch(batch[start : start + MAX_QUICK_BATCH])
                    await asyncio.sleep(0)
            elif batch:
                await self._commit_batch(batch)
            self._wrote_since_checkpoint = self._wrote_since_checkpoint or bool(batch)
            await self._checkpoint_in_two_steps()

    async def _checkpoint_in_two_steps(self) -> None:
        """Copy the WAL into the database file without stalling writes for long; called between batches.

        1. The checkpointer connection, on its own thread, copies what is committed and fsyncs (~10-20 ms
           for a busy half second here) while writes go on.
        2. Once it is done, the writer itself checkpoints the few frames committed meanwhile (~1-2 ms,
           writes wait). Only a checkpoint by the writer, with no commit in between, lets the next write
           start the WAL over; under steady load step 1 alone never catches up and the WAL would grow
           without bound. PASSIVE throughout: readers are never waited for.
        """
        side = self._side_checkpoint
        if side is not None:
            if not side.done():
                return
            self._side_checkpoint = None
            try:
                side.result()
                await self._on_thread(_checkpoint)
                self.checkpoints += 1
            except sqlite3.Error:
                log.exception("WAL checkpoint failed; the next one retries")
            return
        now = time.monotonic()
        if self._wrote_since_checkpoint and now - self._last_checkpoint >= CHECKPOINT_EVERY_SECS:
            self._wrote_since_checkpoint = False
            self._last_checkpoint = now
            self._side_checkpoint = asyncio.create_task(self._checkpoint_aside(), name="sqlite-checkpoint")

    async def _checkpoint_aside(self) -> None:
        await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _commit_batch(self, batch: list[_WriteRequest]) -> None:
        conn = self._writer
        try:
            if all(request.sync_fn is not None for request in batch):
                # Only plain functions queued (the ping path): BEGIN to COMMIT on the loop's thread when
                # all are quick and the lock is free, else in a single hop to the writer's thread.
                fns = _sync_fns(batch)
                quick = all(request.quick for request in batch)  # the write loop slices these to MAX_QUICK_BATCH
                outcomes = self._commit_here(fns) if quick else None
                if outcomes is None:
                    outcomes = await self._on_thread(_transaction_on_thread, fns, self._new_transaction())
            else:
                self._new_transaction()
                await self._on_thread(_begin_waiting)
                outcomes = await self._run_mixed(batch)
                await conn.execute("COMMIT")
            self._transaction.committed()
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

    def _commit_here(self, fns: list[SyncWriteFn[Any]]) -> list[tuple[bool, Any]] | None:
        """A quick batch on the loop's thread; None if another connection holds the write lock."""
        conn = self._writer_connection
        if not _begin_now(conn):
            return None
        self._new_transaction()
        with _rolled_back_on_error(conn):
            try:
                # Optimistic: no savepoint per write (two statements each, as many as a ping's own).
                outcomes: list[tuple[bool, Any]] = [(True, fn(conn)) for fn in fns]
            except Exception:
                # One failed: undo the batch and run it again with a savepoint per write, so only it fails.
                conn.execute("ROLLBACK")
                if not _begin_now(conn):
                    return None
                outcomes = _each_in_savepoint(conn, fns, self._new_transaction())
            conn.execute("COMMIT")
        self.quick_batches += 1
        return outcomes

    @property
    def _writer_connection(self) -> sqlite3.Connection:
        # aiosqlite exposes no public handle to its sqlite3 connection; only the write loop uses it.
        conn: sqlite3.Connection = self._writer._conn
        return conn

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
                outcomes.extend(
                    await self._on_thread(_each_in_savepoint, _sync_fns(batch[index:end]), self._transaction)
                )
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
                    self._new_transaction()
                    await self._on_thread(_begin_waiting)
                continue
            # Each write in a shared batch gets a savepoint, so one failure cannot undo the others.
            await conn.execute("SAVEPOINT w")
            mark = self._transaction.mark()
            try:
                outcomes.append((True, await request.fn(conn)))
            except Exception as exc:
                outcomes.append((False, exc))
                await conn.execute("ROLLBACK TO w")
                self._transaction.undo_to(mark)
            await conn.execute("RELEASE w")
        return outcomes

    async def _on_reader(self, fn: Callable[[sqlite3.Connection, str, Params], T], sql: str, params: Params) -> T:
        reader = self._reader
        result: T = await reader._execute(fn, reader._conn, sql, params)  # type: ignore[no-untyped-call]
        return result

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(writer connection, *args)` on the writer's own thread."""
        # aiosqlite has no public "run this on the connection's thread"; _execute is how it runs its own calls.
        writer = self._writer
        result: T = await writer._execute(fn, writer._conn, *args)  # type: ignore[no-untyped-call]
        return result


def _open_quick_reader(path: Path) -> sqlite3.Connection:
    """The loop thread's own read connection (opened off the loop): never waits on a lock, never writes."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=0")
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _fetch_all(conn: sqlite3.Connection, sql: str, params: Params) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _fetch_one(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Row | None:
    cursor = conn.execute(sql, params)
    try:
        row: sqlite3.Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()  # a query with more rows must not hold its read snapshot open


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


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
