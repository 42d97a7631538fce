"""Heartbeat operations shared by the REST faces and the TUI: create, edit, pause, delete, history, and pings."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, NamedTuple

from tickstem_tui.clock import Clock
from tickstem_tui.config import Settings
from tickstem_tui.domain.errors import Conflict, NotFound, QuotaExceeded
from tickstem_tui.domain.events import HeartbeatChanged, PingReceived
from tickstem_tui.domain.heartbeats import (
    Face,
    Heartbeat,
    HeartbeatSpec,
    HeartbeatState,
    PingKind,
    PingRecord,
    Transition,
    clip_output,
    clip_user_agent,
    flipped,
    new_heartbeat,
    on_ping,
    parse_create,
    parse_update,
    paused,
    resumed,
    with_spec,
)
from tickstem_tui.domain.ids import new_id, new_slug, new_token, new_uuid
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.flips import record_flip_sync
from tickstem_tui.services.watchdog import Watchdog
from tickstem_tui.store.database import Database, Versioned
from tickstem_tui.store.heartbeats import (
    Gap,
    HeartbeatRepository,
    PingedRows,
    count_heartbeats,
    fetch_heartbeat,
    fetch_versioned,
    insert_heartbeat,
    insert_ping,
    update_heartbeat,
    update_pinged,
    withdraw_ping,
)

HEARTBEAT_NOT_FOUND = "heartbeat not found"
SLUG_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class PingResult:
    """A committed ping: the heartbeat after it, and whether it counted (paused heartbeats ignore pings)."""

    heartbeat: Heartbeat
    accepted: bool

    @property
    def status(self) -> str:
        """Tickstem's ping answer: `ok`, or `paused` when the heartbeat is paused."""
        return "ok" if self.accepted else "paused"


class _Pinged(NamedTuple):
    before: Heartbeat
    transition: Transition
    committed: Versioned[Heartbeat]


def _scope(account_id: str, heartbeat_id: str, face: Face | None) -> tuple[str, tuple[object, ...]]:
    if face is None:
        return "id = ? AND account_id = ?", (heartbeat_id, account_id)
    return "id = ? AND account_id = ? AND face = ?", (heartbeat_id, account_id, face.value)


class HeartbeatService:
    """Every change goes through the store's single writer and returns after it is committed.

    Writes are plain functions run on the writer connection's thread (`Database.write_sync`): a burst of
    pings then costs one thread round trip per batch rather than several per ping.
    """

    def __init__(
        self,
        db: Database,
        repo: HeartbeatRepository,
        watchdog: Watchdog,
        bus: EventBus,
        clock: Clock,
        settings: Settings,
    ) -> None:
        self._db = db
        self.repo = repo
        self._watchdog = watchdog
        self._bus = bus
        self._clock = clock
        self._settings = settings
        self._pinged = PingedRows()

    # -- reading ---------------------------------------------------------------------------------
    async def get(self, account_id: str, heartbeat_id: str, face: Face | None = None) -> Heartbeat:
        heartbeat = await self.repo.get(account_id, heartbeat_id, face)
        if heartbeat is None:
            raise NotFound(HEARTBEAT_NOT_FOUND)
        return heartbeat

    async def list_heartbeats(
        self, account_id: str, face: Face | None = None, *, newest_first: bool = False
    ) -> list[Heartbeat]:
        return await self.repo.for_account(account_id, face, newest_first=newest_first)

    async def list_all(self) -> list[Heartbeat]:
        """Every account's heartbeats, oldest first: the machine owner's console also shows CronSafe accounts'."""
        return await self.repo.all_heartbeats()

    async def pings(
        self, account_id: str, heartbeat_id: str, limit: int, offset: int = 0, face: Face | None = None
    ) -> list[PingRecord]:
        """Ping history, newest first."""
        await self.get(account_id, heartbeat_id, face)
        return await self.repo.pings(heartbeat_id, limit, offset)

    async def gaps(self, limit: int = 50) -> list[Gap]:
        """Stretches the watchdog could not observe (machine asleep, server stopped), newest first."""
        return await self.repo.gaps(limit)

    # -- changing --------------------------------------------------------------------------------
    async def create(self, account_id: str, data: Any) -> Heartbeat:
        """A Tickstem heartbeat from a request body (`name`, `interval_secs`?, `grace_secs`?)."""
        return await self.create_from_spec(account_id, parse_create(data))

    async def create_from_spec(
        self,
        account_id: str,
        spec: HeartbeatSpec,
        *,
        face: Face = Face.TICKSTEM,
        slug: str | None = None,
        alert_channels: list[dict[str, str]] | None = None,
    ) -> Heartbeat:
        """Create a heartbeat for either face. CronSafe monitors get a UUID id and a slug (random unless given)."""
        limit = self._settings.max_heartbeats

        def run(conn: sqlite3.Connection) -> Heartbeat:
            if limit and count_heartbeats(conn, account_id) >= limit:
                raise QuotaExceeded(f"heartbeat limit reached ({limit}); delete one to create another")
            chosen = slug
            if face is Face.CRONSAFE and chosen is None:
                for _ in range(SLUG_ATTEMPTS):
                    chosen = new_slug()
                    if fetch_heartbeat(conn, "slug = ?", (chosen,)) is None:
                        break
            elif chosen is not None and fetch_heartbeat(conn, "slug = ?", (chosen,)) is not None:
                raise Conflict(f"slug {chosen!r} is already in use")
            heartbeat = new_heartbeat(
                id=new_id("hb") if face is Face.TICKSTEM else new_uuid(),
                account_id=account_id,
                face=face,
                spec=spec,
                token=new_token(),
                slug=chosen,
                now=self._clock.now(),
                alert_channels=alert_channels,
            )
            insert_heartbeat(conn, heartbeat)
            return heartbeat

        heartbeat = await self._db.write_sync(run)
        self._changed(heartbeat)
        return heartbeat

    async def update(self, account_id: str, heartbeat_id: str, data: Any, face: Face | None = None) -> Heartbeat:
        """A partial update (Tickstem PATCH): absent keys keep their values; `status` active/paused."""

        def change(current: Heartbeat) -> Heartbeat:
            spec, status = parse_update(data, current.spec)
            return self._apply(current, spec, status)

        return await self._modify(account_id, heartbeat_id, face, change)

    async def update_spec(
        self,
        account_id: str,
        heartbeat_id: str,
        spec: HeartbeatSpec,
        *,
        status: HeartbeatState | None = None,
        alert_channels: list[dict[str, str]] | None = None,
        face: Face | None = None,
    ) -> Heartbeat:
        """The same for callers that parsed their own shape (CronSafe PUT, the TUI's form)."""

        def change(current: Heartbeat) -> Heartbeat:
            updated = self._apply(current, spec, status)
            if alert_channels is not None and alert_channels != current.alert_channels:
                updated = replace(updated, alert_channels=list(alert_channels), updated_at=self._clock.now())
            return updated

        return await self._modify(account_id, heartbeat_id, face, change)

    async def pause(self, account_id: str, heartbeat_id: str, face: Face | None = None) -> Heartbeat:
        return await self._modify(account_id, heartbeat_id, face, lambda hb: paused(hb, self._clock.now()))

    async def resume(self, account_id: str, heartbeat_id: str, face: Face | None = None) -> Heartbeat:
        return await self._modify(account_id, heartbeat_id, face, lambda hb: resumed(hb, self._clock.now()))

    async def delete(self, account_id: str, heartbeat_id: str, face: Face | None = None) -> None:
        """Remove the heartbeat and, with it, its whole ping history."""
        where, params = _scope(account_id, heartbeat_id, face)
        if not await self.repo.delete_with_history(where, params):
            raise NotFound(HEARTBEAT_NOT_FOUND)
        self._bus.publish(HeartbeatChanged(account_id, heartbeat_id, deleted=True))

    # -- pings -----------------------------------------------------------------------------------
    async def ping(
        self,
        token: str,
        *,
        kind: PingKind = PingKind.SUCCESS,
        output: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> PingResult:
        """A ping by Tickstem token; returns once the ping and the heartbeat's new state are committed."""
        return await self._ingest("token = ?", token, kind, output, ip, user_agent)

    async def ping_slug(
        self,
        slug: str,
        *,
        kind: PingKind = PingKind.SUCCESS,
        output: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> PingResult:
        """A ping by CronSafe slug (same durable path)."""
        return await self._ingest("slug = ?", slug, kind, output, ip, user_agent)

    async def _ingest(
        self, where: str, key: str, kind: PingKind, output: str | None, ip: str | None, user_agent: str | None
    ) -> PingResult:
        output = clip_output(output)
        user_agent = clip_user_agent(user_agent)
        lookup = (where, key)
        memo_key = ("pinged", where, key)

        def apply(conn: sqlite3.Connection, row: Versioned[Heartbeat], read_here: bool) -> _Pinged | None:
            """The ping against `row`; None when `row` is a remembered one that is no longer current."""
            current = row.value
            # The time is read inside the writer so pings of one heartbeat commit in time order.
            now = self._clock.now()
            transition = on_ping(current, kind, now, output)
            seq = insert_ping(
                conn,
                id=new_id("hbp") if current.face is Face.TICKSTEM else new_uuid(),
                heartbeat_id=current.id,
                kind=kind,
                received_at=now,
                ip=ip,
                user_agent=user_agent,
                output=output,
                duration_ms=transition.duration_ms,
                paused=current.paused,
            )
            # Every ping updates the row (it names its newest ping), so a success proves `row` was current.
            if seq is None or not update_pinged(conn, transition.heartbeat, row, seq):
                if seq is not None:
                    withdraw_ping(conn, seq)  # recorded from a stale row: the caller reads the row and retries
                if read_here:
                    raise RuntimeError(f"heartbeat {current.id} changed under the writer")
                return None
            flip = flipped(current, transition)
            if flip is not None:
                record_flip_sync(conn, flip)
            return _Pinged(current, transition, Versioned(transition.heartbeat, row.version + 1))

        def run(conn: sqlite3.Connection) -> _Pinged:
            # Start from the row as this transaction last wrote it (pings of one heartbeat often share a
            # batch), else as last committed; the compare-and-set proves either still current.
            transaction = self._db.transaction
            known = transaction.memo.get(memo_key) or self._pinged.get(lookup)
            pinged = apply(conn, known, read_here=False) if known is not None else None
            if pinged is None:
                row = fetch_versioned(conn, where, (key,))
                if row is None:
                    raise NotFound(HEARTBEAT_NOT_FOUND)
                pinged = apply(conn, row, read_here=True)
                assert pinged is not None
            transaction.memo[memo_key] = pinged.committed
            transaction.after_commit(partial(self._pinged.put, lookup, pinged.committed))
            return pinged

        try:
            current, transition, _ = await self._db.write_sync(run, quick=True)
        except NotFound:
            self._pinged.discard(lookup)
            raise
        after = transition.heartbeat
        self._bus.publish(PingReceived(after.account_id, after.id, kind.value, after.status, self._clock.now()))
        if (flip := flipped(current, transition)) is not None:
            self._bus.publish(flip)
        # A ping only ever moves a deadline later, so the watchdog needs no wake-up here: at its planned
        # wake-up it finds nothing due and sleeps again until the (new) earliest deadline.
        return PingResult(after, accepted=not current.paused)

    # -- internals -------------------------------------------------------------------------------
    def _apply(self, current: Heartbeat, spec: HeartbeatSpec, status: HeartbeatState | None) -> Heartbeat:
        now = self._clock.now()
        updated = with_spec(current, spec, now) if spec != current.spec else current
        if status is HeartbeatState.PAUSED:
            updated = paused(updated, now)
        elif status is not None:
            updated = resumed(updated, now)
        return updated

    async def _modify(
        self, account_id: str, heartbeat_id: str, face: Face | None, change: Callable[[Heartbeat], Heartbeat]
    ) -> Heartbeat:
        where, params = _scope(account_id, heartbeat_id, face)

        def run(conn: sqlite3.Connection) -> Heartbeat:
            current = fetch_heartbeat(conn, where, params)
            if current is None:
                raise NotFound(HEARTBEAT_NOT_FOUND)
            updated = change(current)
            if updated != current and not update_heartbeat(conn, updated, current):
                raise RuntimeError(f"heartbeat {current.id} changed under the writer")
            return updated

        heartbeat = await self._db.write_sync(run)
        self._changed(heartbeat)
        return heartbeat

    def _changed(self, heartbeat: Heartbeat) -> None:
        self._watchdog.deadline_changed(heartbeat.alert_after)
        self._bus.publish(HeartbeatChanged(heartbeat.account_id, heartbeat.id))
