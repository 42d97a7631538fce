"""Accounts, hashed API keys and server-wide secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.times import from_ms, opt_from_ms, to_ms
from tickstem_tui.store.database import Database

OWNER_ACCOUNT_ID = "acct_owner"


def hash_api_key(key: str) -> str:
    """API keys are long random secrets, so one SHA-256 is enough to make the stored form useless."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None


class AccountRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure_owner(self, now: datetime) -> bool:
        """Create the local owner account if missing; True when this call created it."""
        return (
            await self._db.execute(
                "INSERT OR IGNORE INTO accounts (id, kind, created_at) VALUES (?, 'owner', ?)",
                (OWNER_ACCOUNT_ID, to_ms(now)),
            )
            == 1
        )

    async def add_api_key(self, account_id: str, name: str, key: str, now: datetime) -> ApiKey:
        """Store a key's hash (idempotent for the same key) and return its record."""
        key_hash = hash_api_key(key)
        hint = key[:12] + "…" if len(key) > 16 else key[:4] + "…"
        key_id = new_id("key")

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO api_keys (id, account_id, name, key_hash, hint, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL",
                (key_id, account_id, name, key_hash, hint, to_ms(now)),
            )

        await self._db.write(run)
        row = await self._db.fetch_one("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        assert row is not None
        return _api_key(row)

    async def account_for_key(self, key: str) -> str | None:
        """The account a presented key belongs to, or None when unknown or revoked."""
        key_hash = hash_api_key(key)
        row = await self._db.fetch_one(
            "SELECT account_id, key_hash FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
            quick=True,
        )
        if row is None or not hmac.compare_digest(row["key_hash"], key_hash):
            return None
        return str(row["account_id"])

    async def list_api_keys(self, account_id: str) -> list[ApiKey]:
        rows = await self._db.fetch_all(
            "SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at, id", (account_id,)
        )
        return [_api_key(row) for row in rows]

    async def revoke_api_key(self, account_id: str, key_id: str, now: datetime) -> bool:
        changed = await self._db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
            (to_ms(now), key_id, account_id),
        )
        return changed == 1

    async def secret(self, name: str) -> str:
        """A server secret generated once and kept (e.g. the JWT signing key)."""

        async def run(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)",
                (name, secrets.token_urlsafe(48)),
            )

        await self._db.write(run)
        value = await self._db.fetch_value("SELECT value FROM server_secrets WHERE name = ?", (name,))
        return str(value)


def _api_key(row: aiosqlite.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        hint=row["hint"],
        created_at=from_ms(row["created_at"]),
        revoked_at=opt_from_ms(row["revoked_at"]),
    )
