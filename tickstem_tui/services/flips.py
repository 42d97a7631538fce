"""Recording state changes: one flip row per change, written in the same transaction as the change."""

from __future__ import annotations

import sqlite3

import aiosqlite

from tickstem_tui.domain.events import Flipped
from tickstem_tui.domain.times import to_ms

_INSERT_FLIP = (
    "INSERT INTO flips (account_id, subject_kind, subject_id, subject_name, old_status, new_status, "
    "reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _flip_params(flip: Flipped) -> tuple[object, ...]:
    return (
        flip.account_id,
        flip.subject_kind,
        flip.subject_id,
        flip.subject_name,
        flip.old_status,
        flip.new_status,
        flip.reason,
        to_ms(flip.at),
    )


async def record_flip(conn: aiosqlite.Connection, flip: Flipped) -> None:
    await conn.execute(_INSERT_FLIP, _flip_params(flip))


def record_flip_sync(conn: sqlite3.Connection, flip: Flipped) -> None:
    """The same, inside a `Database.write_sync` function (on the writer's thread)."""
    conn.execute(_INSERT_FLIP, _flip_params(flip))
