"""Heartbeats, their pings and the watchdog's gaps: rows to domain objects and back, with no rules of their own."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from tickstem_tui.domain.heartbeats import Face, Heartbeat, HeartbeatSpec, HeartbeatState, PingKind, PingRecord
from tickstem_tui.domain.times import from_ms, opt_from_ms, opt_to_ms, to_ms
from tickstem_tui.store.database import ColumnCodec, Database, Versioned, enum_value, update_changed_at_version


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch the watchdog could not observe (see migration 0003)."""

    id: int
    reason: str
    started_at: datetime
    ended_at: datetime
    rearmed: int


_FACES = {face.value: face for face in Face}
_STATES = {state.value: state for state in HeartbeatState}


def _channels_from_json(text: str) -> list[dict[str, str]]:
    # Most monitors have no channels: json.loads("[]") is ~25x slower than this test (and pings read every row).
    return [] if text == "[]" else list(json.loads(text))


def _channels_to_json(channels: list[dict[str, str]]) -> str:
    return json.dumps(channels) if channels else "[]"


def row_to_heartbeat(row: sqlite3.Row) -> Heartbeat:
    return Heartbeat(
        id=row["id"],
        account_id=row["account_id"],
        face=_FACES[row["face"]],
        spec=HeartbeatSpec(row["name"], row["interval_secs"], row["grace_secs"]),
        token=row["token"],
        slug=row["slug"],
        state=_STATES[row["state"]],
        consecutive_misses=row["consecutive_misses"],
        last_ping_at=opt_from_ms(row["last_ping_at"]),
        last_start_at=opt_from_ms(row["last_start_at"]),
        last_duration_ms=row["last_duration_ms"],
        last_failure_output=row["last_failure_output"],
        next_expected_at=opt_from_ms(row["next_expected_at"]),
        alert_after=opt_from_ms(row["alert_after"]),
        created_at=from_ms(row["created_at"]),
        updated_at=from_ms(row["updated_at"]),
        alert_channels=_channels_from_json(row["alert_channels"]),
    )


def row_to_ping(row: sqlite3.Row) -> PingRecord:
    return PingRecord(
        id=row["id"],
        heartbeat_id=row["heartbeat_id"],
        kind=PingKind(row["kind"]),
        received_at=from_ms(row["received_at"]),
        ip=row["ip"],
        user_agent=row["user_agent"],
        output=row["output"],
        duration_ms=row["duration_ms"],
        paused=bool(row["paused"]),
    )


_COLUMNS = (
    "id, account_id, face, name, token, slug, interval_secs, grace_secs, state, consecutive_misses, "
    "last_ping_at, last_start_at, last_duration_ms, last_failure_output, next_expected_at, alert_after, "
    "alert_channels, created_at, updated_at"
)

# Everything that changes after creation; the identity columns (id, account, face, token, slug) never do here.
_MUTABLE = (
    "name = ?, interval_secs = ?, grace_secs = ?, state = ?, consecutive_misses = ?, last_ping_at = ?, "
    "last_start_at = ?, last_duration_ms = ?, last_failure_output = ?, next_expected_at = ?, alert_after = ?, "
    "alert_channels = ?, updated_at = ?"
)


def _mutable_params(hb: Heartbeat) -> tuple[object, ...]:
    return (
        hb.spec.name,
        hb.spec.interval_secs,
        hb.spec.grace_secs,
        hb.state.value,
        hb.consecutive_misses,
        opt_to_ms(hb.last_ping_at),
        opt_to_ms(hb.last_start_at),
        hb.last_duration_ms,
        hb.last_failure_output,
        opt_to_ms(hb.next_expected_at),
        opt_to_ms(hb.alert_after),
        _channels_to_json(hb.alert_channels),
        to_ms(hb.updated_at),
    )


# -- writes: plain functions for `Database.write_sync`, run on the writer connection's thread --------
def insert_heartbeat(conn: sqlite3.Connection, hb: Heartbeat) -> None:
    conn.execute(
        f"INSERT INTO heartbeats ({_COLUMNS}) VALUES ({', '.join('?' * 19)})",
        # id, account, face, name, token, slug, then interval … alert_channels, then both timestamps.
        (
            hb.id,
            hb.account_id,
            hb.face.value,
            hb.spec.name,
            hb.token,
            hb.slug,
            *_mutable_params(hb)[1:12],
            to_ms(hb.created_at),
            to_ms(hb.updated_at),
        ),
    )


def update_heartbeat(conn: sqlite3.Connection, after: Heartbeat, before: Heartbeat) -> bool:
    """Compare-and-set: write `after` only if the row still holds `before`'s state, misses and deadline."""
    cursor = conn.execute(
        f"UPDATE heartbeats SET {_MUTABLE}, version = version + 1 "
        "WHERE id = ? AND state = ? AND consecutive_misses = ? AND alert_after IS ? AND last_ping_at IS ?",
        (
            *_mutable_params(after),
            before.id,
            before.state.value,
            before.consecutive_misses,
            opt_to_ms(before.alert_after),
            opt_to_ms(before.last_ping_at),
        ),
    )
    return cursor.rowcount == 1


# Everything a ping can change (see domain.heartbeats.on_ping), as (column and attribute, codec).
_PINGED_COLUMNS: tuple[tuple[str, ColumnCodec], ...] = (
    ("state", enum_value),
    ("consecutive_misses", None),
    ("last_ping_at", to_ms),
    ("last_start_at", to_ms),
    ("last_duration_ms", None),
    ("last_failure_output", None),
    ("next_expected_at", to_ms),
    ("alert_after", to_ms),
    ("updated_at", to_ms),
)


def update_pinged(conn: sqlite3.Connection, after: Heartbeat, before: Versioned[Heartbeat], ping_seq: int) -> bool:
    """Write what a ping changed and name it the newest ping, compare-and-set on the version of `before`."""
    return update_changed_at_version(
        conn, "heartbeats", _PINGED_COLUMNS, after, before, also=(("last_ping_seq", ping_seq),)
    )


def fetch_versioned(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> Versioned[Heartbeat] | None:
    """One heartbeat and its row version, as the writer sees it (inside its transaction)."""
    row = conn.execute(f"SELECT * FROM heartbeats WHERE {where}", params).fetchone()
    return None if row is None else Versioned(row_to_heartbeat(row), row["version"])


class PingedRows:
    """The rows pings last committed, by how they were looked up (`("slug = ?", slug)`), with their row versions.

    A ping starts from here instead of reading its row (a third of its cost). Nothing trusts an entry
    blindly: the ping's update is compare-and-set on the version, and a row changed meanwhile (an edit,
    the watchdog, another process, a batch rolled back) fails it, so the ping reads the row and starts
    over. At most `capacity` entries; the oldest go first.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._rows: dict[tuple[str, str], Versioned[Heartbeat]] = {}

    def get(self, key: tuple[str, str]) -> Versioned[Heartbeat] | None:
        return self._rows.get(key)

    def put(self, key: tuple[str, str], row: Versioned[Heartbeat]) -> None:
        """Remember a committed row, unless a newer version of it is already known."""
        known = self._rows.get(key)
        if known is not None:
            if known.value.id == row.value.id and known.version > row.version:
                return
            del self._rows[key]  # re-inserted below: the dict's order is the eviction order
        elif len(self._rows) >= self._capacity:
            del self._rows[next(iter(self._rows))]
        self._rows[key] = row

    def discard(self, key: tuple[str, str]) -> None:
        self._rows.pop(key, None)

    def __len__(self) -> int:
        return len(self._rows)


def fetch_heartbeat(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> Heartbeat | None:
    """One heartbeat as the writer sees it (inside its transaction)."""
    row = conn.execute(f"SELECT * FROM heartbeats WHERE {where}", params).fetchone()
    return None if row is None else row_to_heartbeat(row)


def count_heartbeats(conn: sqlite3.Connection, account_id: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM heartbeats WHERE account_id = ?", (account_id,)).fetchone()[0])


def insert_ping(
    conn: sqlite3.Connection,
    *,
    id: str,
    heartbeat_id: str,
    kind: PingKind,
    received_at: datetime,
    ip: str | None,
    user_agent: str | None,
    output: str | None,
    duration_ms: int | None,
    paused: bool,
) -> int | None:
    """Append a ping to its heartbeat's chain (see migration 0008); its seq, or None if the heartbeat is gone.

    The heartbeat row must then name it as its newest ping (`update_pinged`) or the ping be withdrawn.
    """
    cursor = conn.execute(
        "INSERT INTO heartbeat_pings (id, heartbeat_id, kind, received_at, ip, user_agent, output, duration_ms, "
        "paused, prev_seq) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, last_ping_seq FROM heartbeats WHERE id = ?",
        (
            id,
            heartbeat_id,
            kind.value,
            to_ms(received_at),
            ip,
            user_agent,
            output,
            duration_ms,
            int(paused),
            heartbeat_id,
        ),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def withdraw_ping(conn: sqlite3.Connection, seq: int) -> None:
    """Take back a ping its heartbeat row was not updated for (nothing links to it yet)."""
    conn.execute("DELETE FROM heartbeat_pings WHERE seq = ?", (seq,))


def delete_heartbeat(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> tuple[str, int | None] | None:
    """Delete one heartbeat row; its id and newest ping (the chain `delete_pings` then removes), or None."""
    row = conn.execute(f"SELECT id, last_ping_seq FROM heartbeats WHERE {where}", params).fetchone()
    if row is None:
        return None
    conn.execute("DELETE FROM heartbeats WHERE id = ?", (row[0],))
    return row[0], row[1]


# Links pings inserted in bulk (demo data) into their heartbeats' chains, in seq order: insert oldest first.
LINK_PING_CHAINS = (
    "UPDATE heartbeat_pings SET prev_seq = linked.prev_seq FROM (SELECT seq, LAG(seq) OVER "
    "(PARTITION BY heartbeat_id ORDER BY seq) AS prev_seq FROM heartbeat_pings) AS linked "
    "WHERE heartbeat_pings.seq = linked.seq AND linked.prev_seq IS NOT NULL",
    "UPDATE heartbeats SET last_ping_seq = newest.seq FROM (SELECT heartbeat_id, MAX(seq) AS seq "
    "FROM heartbeat_pings GROUP BY heartbeat_id) AS newest WHERE heartbeats.id = newest.heartbeat_id",
)


# A heartbeat's pings from a starting one back, newest first. `seq` only decreases along a chain, so a
# link that does not (a seq reused after pruning emptied the table) or that names another heartbeat ends
# it, as does a missing row: that is where pruning stopped. `:depth` bounds the walk (-1: no bound).
_CHAIN = (
    "WITH RECURSIVE chain AS (SELECT * FROM heartbeat_pings WHERE seq = {start} AND heartbeat_id = :heartbeat "
    "UNION ALL SELECT p.* FROM chain JOIN heartbeat_pings AS p ON p.seq = chain.prev_seq "
    "WHERE p.heartbeat_id = :heartbeat AND p.seq < chain.seq LIMIT :depth) "
)
_CHAIN_FROM_NEWEST = _CHAIN.format(start="(SELECT last_ping_seq FROM heartbeats WHERE id = :heartbeat)")
_CHAIN_FROM = _CHAIN.format(start=":start AND seq < :below")
PING_HISTORY = _CHAIN_FROM_NEWEST + "SELECT * FROM chain ORDER BY seq DESC LIMIT :limit OFFSET :offset"
"""A page of one heartbeat's pings, newest first: one rowid lookup per row up to `:depth` (offset + limit)."""


def delete_chain_part(
    conn: sqlite3.Connection, heartbeat_id: str, start: int, below: int, limit: int
) -> tuple[int, tuple[int, int] | None]:
    """Delete up to `limit` pings of a chain, from `start` (older than `below`) back.

    Returns how many, and the (start, below) of the rest when the walk stopped at `limit` with more linked.
    """
    rows = conn.execute(
        _CHAIN_FROM + "SELECT seq, prev_seq FROM chain",
        {"heartbeat": heartbeat_id, "start": start, "below": below, "depth": limit},
    ).fetchall()
    conn.executemany("DELETE FROM heartbeat_pings WHERE seq = ?", [(row[0],) for row in rows])
    if len(rows) < limit or rows[-1][1] is None:
        return len(rows), None
    return len(rows), (rows[-1][1], rows[-1][0])


def due_heartbeats(conn: sqlite3.Connection, now: datetime, limit: int) -> list[Heartbeat]:
    rows = conn.execute(
        "SELECT * FROM heartbeats WHERE alert_after IS NOT NULL AND alert_after <= ? ORDER BY alert_after LIMIT ?",
        (to_ms(now), limit),
    ).fetchall()
    return [row_to_heartbeat(row) for row in rows]


def interrupted_heartbeats(conn: sqlite3.Connection, since: datetime, until: datetime) -> list[Heartbeat]:
    """Watched heartbeats whose deadline fell in (since, until], or whose alert threshold passed by `until`."""
    rows = conn.execute(
        "SELECT * FROM heartbeats WHERE alert_after IS NOT NULL AND next_expected_at <= ? "
        "AND (next_expected_at > ? OR alert_after <= ?)",
        (to_ms(until), to_ms(since), to_ms(until)),
    ).fetchall()
    return [row_to_heartbeat(row) for row in rows]


def insert_gap(conn: sqlite3.Connection, reason: str, started_at: datetime, ended_at: datetime, rearmed: int) -> None:
    conn.execute(
        "INSERT INTO watchdog_gaps (reason, started_at, ended_at, rearmed) VALUES (?, ?, ?, ?)",
        (reason, to_ms(started_at), to_ms(ended_at), rearmed),
    )


class HeartbeatRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, account_id: str, heartbeat_id: str, face: Face | None = None) -> Heartbeat | None:
        sql = "SELECT * FROM heartbeats WHERE id = ? AND account_id = ?"
        params: tuple[object, ...] = (heartbeat_id, account_id)
        if face is not None:
            sql += " AND face = ?"
            params += (face.value,)
        row = await self._db.fetch_one(sql, params, quick=True)
        return None if row is None else row_to_heartbeat(row)

    async def get_any(self, heartbeat_id: str) -> Heartbeat | None:
        row = await self._db.fetch_one("SELECT * FROM heartbeats WHERE id = ?", (heartbeat_id,))
        return None if row is None else row_to_heartbeat(row)

    async def by_slug(self, slug: str) -> Heartbeat | None:
        row = await self._db.fetch_one("SELECT * FROM heartbeats WHERE slug = ?", (slug,))
        return None if row is None else row_to_heartbeat(row)

    async def for_account(
        self, account_id: str, face: Face | None = None, *, newest_first: bool = False
    ) -> list[Heartbeat]:
        order = "DESC" if newest_first else "ASC"
        if face is None:
            rows = await self._db.fetch_all(
                f"SELECT * FROM heartbeats WHERE account_id = ? ORDER BY created_at {order}, id {order}",
                (account_id,),
            )
        else:
            rows = await self._db.fetch_all(
                f"SELECT * FROM heartbeats WHERE account_id = ? AND face = ? ORDER BY created_at {order}, id {order}",
                (account_id, face.value),
            )
        return [row_to_heartbeat(row) for row in rows]

    async def all_heartbeats(self) -> list[Heartbeat]:
        rows = await self._db.fetch_all("SELECT * FROM heartbeats ORDER BY created_at, id")
        return [row_to_heartbeat(row) for row in rows]

    async def count(self, account_id: str, face: Face | None = None) -> int:
        if face is None:
            value = await self._db.fetch_value("SELECT COUNT(*) FROM heartbeats WHERE account_id = ?", (account_id,))
        else:
            value = await self._db.fetch_value(
                "SELECT COUNT(*) FROM heartbeats WHERE account_id = ? AND face = ?", (account_id, face.value)
            )
        return int(value or 0)

    async def earliest_alert_after(self) -> datetime | None:
        """The watchdog's next wake-up: one step down the partial index."""
        value = await self._db.fetch_value("SELECT MIN(alert_after) FROM heartbeats WHERE alert_after IS NOT NULL")
        return None if value is None else from_ms(value)

    async def pings(self, heartbeat_id: str, limit: int, offset: int = 0) -> list[PingRecord]:
        rows = await self._db.fetch_all(
            PING_HISTORY,
            {"heartbeat": heartbeat_id, "depth": limit + offset, "limit": limit, "offset": offset},
        )
        return [row_to_ping(row) for row in rows]

    async def ping_count(self, heartbeat_id: str) -> int:
        value = await self._db.fetch_value(
            _CHAIN_FROM_NEWEST + "SELECT COUNT(*) FROM chain", {"heartbeat": heartbeat_id, "depth": -1}
        )
        return int(value or 0)

    async def gaps(self, limit: int = 50) -> list[Gap]:
        rows = await self._db.fetch_all("SELECT * FROM watchdog_gaps ORDER BY ended_at DESC, id DESC LIMIT ?", (limit,))
        return [Gap(r["id"], r["reason"], from_ms(r["started_at"]), from_ms(r["ended_at"]), r["rearmed"]) for r in rows]

    async def prune_pings(self, before: datetime, batch: int = 5000) -> int:
        """Delete pings received before `before`, in bounded batches so each write stays short."""
        total = 0
        while True:
            deleted = await self._db.execute(
                "DELETE FROM heartbeat_pings WHERE seq IN "
                "(SELECT seq FROM heartbeat_pings WHERE received_at < ? LIMIT ?)",
                (to_ms(before), batch),
            )
            total += deleted
            if deleted < batch:
                break
        await self._db.execute("DELETE FROM watchdog_gaps WHERE ended_at < ?", (to_ms(before),))
        return total

    async def trim_pings(self, keep: int, batch: int = 5000) -> int:
        """Keep only the newest `keep` pings of each heartbeat, so a busy heartbeat cannot grow without bound."""
        total = 0
        # A chain is at most as long as the seqs it can span: most heartbeats need no walk at all.
        oldest = await self._db.fetch_value("SELECT MIN(seq) FROM heartbeat_pings")
        if oldest is None:
            return 0
        candidates = await self._db.fetch_all(
            "SELECT id FROM heartbeats WHERE last_ping_seq >= ?", (oldest + keep - 1,)
        )
        for heartbeat_id in [row["id"] for row in candidates]:
            # With MIN(), SQLite takes the bare column (prev_seq) from the row holding the minimum.
            oldest_kept = await self._db.fetch_one(
                _CHAIN_FROM_NEWEST + "SELECT MIN(seq) AS seq, prev_seq, COUNT(*) AS n FROM chain",
                {"heartbeat": heartbeat_id, "depth": keep},
            )
            if oldest_kept is None or oldest_kept["n"] < keep or oldest_kept["prev_seq"] is None:
                continue
            start, below = oldest_kept["prev_seq"], oldest_kept["seq"]
            total += await self.delete_pings(heartbeat_id, start, below=below, batch=batch)
        return total

    async def delete_with_history(self, where: str, params: tuple[object, ...]) -> bool:
        """Delete the heartbeat `where` selects, then its chain of pings; False if there was none."""
        deleted = await self._db.write_sync(partial(delete_heartbeat, where=where, params=params))
        if deleted is None:
            return False
        heartbeat_id, newest_ping = deleted
        if newest_ping is not None:
            await self.delete_pings(heartbeat_id, newest_ping, below=newest_ping + 1)
        return True

    async def delete_pings(self, heartbeat_id: str, start: int, *, below: int, batch: int = 5000) -> int:
        """Delete a heartbeat's pings from `start` back, in bounded batches so each write stays short."""
        total = 0
        rest: tuple[int, int] | None = (start, below)
        while rest is not None:
            deleted, rest = await self._db.write_sync(
                partial(delete_chain_part, heartbeat_id=heartbeat_id, start=rest[0], below=rest[1], limit=batch)
            )
            total += deleted
        return total
