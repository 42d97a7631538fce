"""Uptime monitors, checks and hourly roll-ups: rows to domain objects and back, with no rules of their own."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime

import aiosqlite

from tickstem_tui.domain.monitors import (
    UPTIME_WINDOWS,
    Assertion,
    CheckStatus,
    Comparison,
    Monitor,
    MonitorCheck,
    MonitorSpec,
    MonitorStatus,
    Source,
    Uptime,
    hour_start,
    percent,
    window_start,
)
from tickstem_tui.domain.times import from_ms, opt_from_ms, opt_to_ms, to_ms
from tickstem_tui.store.database import ColumnCodec, Database, Versioned, enum_value, update_changed_at_version


def _assertions_to_json(assertions: Iterable[Assertion]) -> str:
    listed = [{"source": a.source.value, "comparison": a.comparison.value, "target": a.target} for a in assertions]
    return json.dumps(listed) if listed else "[]"


def _assertions_from_json(text: str) -> tuple[Assertion, ...]:
    if text == "[]":
        return ()  # most monitors assert nothing; every check reads its monitor's row (json.loads costs ~8 us)
    return tuple(Assertion(Source(a["source"]), Comparison(a["comparison"]), a["target"]) for a in json.loads(text))


_STATUSES = {status.value: status for status in MonitorStatus}
_CHECK_STATUSES = {status.value: status for status in CheckStatus}


def row_to_monitor(row: aiosqlite.Row) -> Monitor:
    last = row["last_check_status"]
    return Monitor(
        id=row["id"],
        account_id=row["account_id"],
        spec=MonitorSpec(
            name=row["name"],
            url=row["url"],
            interval_secs=row["interval_secs"],
            timeout_secs=row["timeout_secs"],
            assertions=_assertions_from_json(row["assertions"]),
        ),
        status=_STATUSES[row["status"]],
        consecutive_failures=row["consecutive_failures"],
        ssl_expires_at=opt_from_ms(row["ssl_expires_at"]),
        next_check_at=opt_from_ms(row["next_check_at"]),
        last_checked_at=opt_from_ms(row["last_checked_at"]),
        last_check_status=None if last is None else _CHECK_STATUSES[last],
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
    )


def row_to_check(row: aiosqlite.Row) -> MonitorCheck:
    return MonitorCheck(
        id=row["id"],
        monitor_id=row["monitor_id"],
        status=CheckStatus(row["status"]),
        status_code=row["status_code"],
        duration_ms=row["duration_ms"],
        error=row["error"],
        ssl_expires_at=opt_from_ms(row["ssl_expires_at"]),
        checked_at=from_ms(row["checked_at"]),
    )


_MONITOR_COLUMNS = (
    "id, account_id, name, url, interval_secs, timeout_secs, assertions, status, consecutive_failures, "
    "ssl_expires_at, next_check_at, last_checked_at, last_check_status, created_at, updated_at"
)
_UPSERT_SET = ", ".join(
    f"{column} = excluded.{column}" for column in _MONITOR_COLUMNS.split(", ") if column not in ("id", "account_id")
)


_SAVE_MONITOR = (
    f"INSERT INTO monitors ({_MONITOR_COLUMNS}) VALUES ({', '.join('?' * 15)}) "
    f"ON CONFLICT (id) DO UPDATE SET {_UPSERT_SET}"
)
_INSERT_CHECK = (
    "INSERT INTO monitor_checks (id, monitor_id, status, status_code, duration_ms, error, ssl_expires_at, "
    "checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_FOLD_CHECK = (
    "INSERT INTO monitor_hourly (monitor_id, hour, checks, up_checks, total_response_ms) VALUES (?, ?, 1, ?, ?) "
    "ON CONFLICT (monitor_id, hour) DO UPDATE SET checks = checks + 1, "
    "up_checks = up_checks + excluded.up_checks, "
    "total_response_ms = total_response_ms + excluded.total_response_ms"
)


def _monitor_params(monitor: Monitor) -> tuple[object, ...]:
    spec = monitor.spec
    return (
        monitor.id,
        monitor.account_id,
        spec.name,
        spec.url,
        spec.interval_secs,
        spec.timeout_secs,
        _assertions_to_json(spec.assertions),
        monitor.status.value,
        monitor.consecutive_failures,
        opt_to_ms(monitor.ssl_expires_at),
        opt_to_ms(monitor.next_check_at),
        opt_to_ms(monitor.last_checked_at),
        None if monitor.last_check_status is None else monitor.last_check_status.value,
        to_ms(monitor.created_at),
        to_ms(monitor.updated_at),
    )


def _load_sql(monitor_id: str, account_id: str | None) -> tuple[str, tuple[str, ...]]:
    if account_id is None:
        return "SELECT * FROM monitors WHERE id = ?", (monitor_id,)
    return "SELECT * FROM monitors WHERE id = ? AND account_id = ?", (monitor_id, account_id)


def _check_params(check: MonitorCheck) -> tuple[tuple[object, ...], tuple[object, ...]]:
    return (
        (
            check.id,
            check.monitor_id,
            check.status.value,
            check.status_code,
            check.duration_ms,
            check.error,
            opt_to_ms(check.ssl_expires_at),
            to_ms(check.checked_at),
        ),
        (
            check.monitor_id,
            to_ms(hour_start(check.checked_at)),
            int(check.status is CheckStatus.UP),
            check.duration_ms,
        ),
    )


async def save_monitor(conn: aiosqlite.Connection, monitor: Monitor) -> None:
    """Insert or fully overwrite a monitor row (inside a caller's write)."""
    # An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the foreign-key
    # cascade would take the monitor's checks and roll-ups with it.
    await conn.execute(_SAVE_MONITOR, _monitor_params(monitor))


async def load_monitor(conn: aiosqlite.Connection, monitor_id: str, account_id: str | None = None) -> Monitor | None:
    """Read a monitor inside a caller's write (so a following update is compare-and-set against it)."""
    async with conn.execute(*_load_sql(monitor_id, account_id)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row_to_monitor(row)


async def insert_check(conn: aiosqlite.Connection, check: MonitorCheck) -> None:
    """Store a check and fold it into its hour's roll-up, in the caller's write."""
    check_row, hourly = _check_params(check)
    await conn.execute(_INSERT_CHECK, check_row)
    await conn.execute(_FOLD_CHECK, hourly)


# -- the same as plain functions for `Database.write_sync` (the writer's thread, one round trip per batch) -------
def load_versioned_sync(conn: sqlite3.Connection, monitor_id: str) -> Versioned[Monitor] | None:
    row = conn.execute("SELECT * FROM monitors WHERE id = ?", (monitor_id,)).fetchone()
    return None if row is None else Versioned(row_to_monitor(row), row["version"])


# Everything a check can change (see services.poller: status, streak, certificate, plan, last check),
# as (column and attribute, codec).
_CHECKED_COLUMNS: tuple[tuple[str, ColumnCodec], ...] = (
    ("status", enum_value),
    ("consecutive_failures", None),
    ("ssl_expires_at", to_ms),
    ("next_check_at", to_ms),
    ("last_checked_at", to_ms),
    ("last_check_status", enum_value),
    ("updated_at", to_ms),
)


def save_checked_sync(conn: sqlite3.Connection, after: Monitor, before: Versioned[Monitor]) -> bool:
    """Write what a check changed, compare-and-set on the version of the row it was computed from."""
    return update_changed_at_version(conn, "monitors", _CHECKED_COLUMNS, after, before)


def insert_check_sync(conn: sqlite3.Connection, check: MonitorCheck) -> None:
    check_row, hourly = _check_params(check)
    conn.execute(_INSERT_CHECK, check_row)
    conn.execute(_FOLD_CHECK, hourly)


_UPTIME_SQL = """
SELECT h.monitor_id AS monitor_id,
       SUM(CASE WHEN h.hour >= :day THEN h.checks ELSE 0 END) AS day_checks,
       SUM(CASE WHEN h.hour >= :day THEN h.up_checks ELSE 0 END) AS day_up,
       SUM(CASE WHEN h.hour >= :day THEN h.total_response_ms ELSE 0 END) AS day_ms,
       SUM(CASE WHEN h.hour >= :week THEN h.checks ELSE 0 END) AS week_checks,
       SUM(CASE WHEN h.hour >= :week THEN h.up_checks ELSE 0 END) AS week_up,
       SUM(h.checks) AS month_checks,
       SUM(h.up_checks) AS month_up
FROM monitor_hourly AS h
JOIN monitors AS m ON m.id = h.monitor_id
WHERE m.account_id = :account AND h.hour >= :month {only_one}
GROUP BY h.monitor_id
"""


class MonitorRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, account_id: str, monitor_id: str) -> Monitor | None:
        row = await self._db.fetch_one(
            "SELECT * FROM monitors WHERE id = ? AND account_id = ?", (monitor_id, account_id), quick=True
        )
        return None if row is None else row_to_monitor(row)

    async def get_any(self, monitor_id: str) -> Monitor | None:
        row = await self._db.fetch_one("SELECT * FROM monitors WHERE id = ?", (monitor_id,))
        return None if row is None else row_to_monitor(row)

    async def for_account(self, account_id: str) -> list[Monitor]:
        rows = await self._db.fetch_all(
            "SELECT * FROM monitors WHERE account_id = ? ORDER BY created_at, id", (account_id,)
        )
        return [row_to_monitor(row) for row in rows]

    async def checked(self) -> list[Versioned[Monitor]]:
        """Every monitor the poller should follow (active or failing), earliest due first, with row versions."""
        rows = await self._db.fetch_all(
            "SELECT * FROM monitors WHERE status != 'paused' ORDER BY next_check_at IS NULL, next_check_at, id"
        )
        return [Versioned(row_to_monitor(row), row["version"]) for row in rows]

    async def checks(self, monitor_id: str, limit: int, offset: int) -> list[MonitorCheck]:
        rows = await self._db.fetch_all(
            "SELECT * FROM monitor_checks WHERE monitor_id = ? ORDER BY checked_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (monitor_id, limit, offset),
        )
        return [row_to_check(row) for row in rows]

    async def latest_checks(self, account_id: str) -> dict[str, MonitorCheck]:
        """Each of the account's monitors' newest check, by monitor id (one index probe per monitor)."""
        rows = await self._db.fetch_all(
            "SELECT c.* FROM monitors AS m JOIN monitor_checks AS c ON c.rowid = (SELECT rowid FROM monitor_checks "
            "WHERE monitor_id = m.id ORDER BY checked_at DESC, rowid DESC LIMIT 1) WHERE m.account_id = ?",
            (account_id,),
        )
        return {row["monitor_id"]: row_to_check(row) for row in rows}

    async def uptime(self, account_id: str, now: datetime, monitor_id: str | None = None) -> dict[str, Uptime]:
        """Uptime per monitor over 24 h / 7 d / 30 d, summed from hourly roll-ups (never raw checks)."""
        params: dict[str, object] = {
            "account": account_id,
            **{name: to_ms(window_start(now, span)) for name, span in UPTIME_WINDOWS.items()},
        }
        only_one = ""
        if monitor_id is not None:
            only_one = "AND h.monitor_id = :monitor"
            params["monitor"] = monitor_id
        rows = await self._db.fetch_all(_UPTIME_SQL.format(only_one=only_one), params)
        return {
            row["monitor_id"]: Uptime(
                day=percent(row["day_up"], row["day_checks"]),
                week=percent(row["week_up"], row["week_checks"]),
                month=percent(row["month_up"], row["month_checks"]),
                avg_response_ms_day=round(row["day_ms"] / row["day_checks"]) if row["day_checks"] else None,
            )
            for row in rows
        }

    async def rollups(self, monitor_id: str) -> list[tuple[datetime, int, int, int]]:
        """(hour, checks, up_checks, total_response_ms) oldest first, for charts and tests."""
        rows = await self._db.fetch_all(
            "SELECT hour, checks, up_checks, total_response_ms FROM monitor_hourly WHERE monitor_id = ? ORDER BY hour",
            (monitor_id,),
        )
        return [(from_ms(r["hour"]), r["checks"], r["up_checks"], r["total_response_ms"]) for r in rows]

    async def prune_checks(self, before: datetime, batch: int = 5000) -> int:
        """Delete raw checks older than `before` in bounded batches; roll-ups keep the uptime figures."""
        total = 0
        while True:
            deleted = await self._db.execute(
                "DELETE FROM monitor_checks WHERE rowid IN "
                "(SELECT rowid FROM monitor_checks WHERE checked_at < ? LIMIT ?)",
                (to_ms(before), batch),
            )
            total += deleted
            if deleted < batch:
                return total

    async def prune_rollups(self, before: datetime) -> int:
        """Drop hourly roll-ups whose hour ended before `before` (kept far longer than raw checks)."""
        return await self._db.execute("DELETE FROM monitor_hourly WHERE hour < ?", (to_ms(hour_start(before)),))
