"""Recording state changes: one flip row per change, written in the same transaction as the change."""

from __future__ import annotations

import aiosqlite

from tickstem_tui.domain.events import Flipped
from tickstem_tui.domain.times import to_ms


async def record_flip(conn: aiosqlite.Connection, flip: Flipped) -> None:
    await conn.execute(
        "INSERT INTO flips (account_id, subject_kind, subject_id, subject_name, old_status, new_status, "
        "reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            flip.account_id,
            flip.subject_kind,
            flip.subject_id,
            flip.subject_name,
            flip.old_status,
            flip.new_status,
            flip.reason,
            to_ms(flip.at),
        ),
    )
