"""Email verification history and monthly usage counters: rows to domain objects and back."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from tickstem_tui.domain.times import from_ms, to_ms
from tickstem_tui.domain.verification import Verification
from tickstem_tui.store.database import Database


def row_to_verification(row: aiosqlite.Row) -> Verification:
    return Verification(
        id=row["id"],
        account_id=row["account_id"],
        email=row["email"],
        domain=row["domain"],
        valid=bool(row["valid"]),
        mx_found=bool(row["mx_found"]),
        disposable=bool(row["disposable"]),
        role_based=bool(row["role_based"]),
        reason=row["reason"],
        created_at=from_ms(row["created_at"]),
    )


async def insert_verification(conn: aiosqlite.Connection, item: Verification) -> None:
    await conn.execute(
        "INSERT INTO verifications (id, account_id, email, domain, valid, mx_found, disposable, role_based, reason,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.id,
            item.account_id,
            item.email,
            item.domain,
            int(item.valid),
            int(item.mx_found),
            int(item.disposable),
            int(item.role_based),
            item.reason,
            to_ms(item.created_at),
        ),
    )


async def usage_in(conn: aiosqlite.Connection, account_id: str, month: str) -> int:
    async with conn.execute(
        "SELECT count FROM verification_usage WHERE account_id = ? AND month = ?", (account_id, month)
    ) as cursor:
        row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def add_usage(conn: aiosqlite.Connection, account_id: str, month: str) -> None:
    await conn.execute(
        "INSERT INTO verification_usage (account_id, month, count) VALUES (?, ?, 1)"
        " ON CONFLICT (account_id, month) DO UPDATE SET count = count + 1",
        (account_id, month),
    )


class VerificationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def history(self, account_id: str, limit: int, offset: int) -> list[Verification]:
        rows = await self._db.fetch_all(
            "SELECT * FROM verifications WHERE account_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
            (account_id, limit, offset),
        )
        return [row_to_verification(row) for row in rows]

    async def count(self, account_id: str) -> int:
        return int(await self._db.fetch_value("SELECT COUNT(*) FROM verifications WHERE account_id = ?", (account_id,)))

    async def usage(self, account_id: str, month: str) -> int:
        value = await self._db.fetch_value(
            "SELECT count FROM verification_usage WHERE account_id = ? AND month = ?", (account_id, month)
        )
        return 0 if value is None else int(value)

    async def prune_before(self, cutoff: datetime) -> int:
        return await self._db.execute("DELETE FROM verifications WHERE created_at < ?", (to_ms(cutoff),))
