"""The Verifier service on a real database and a fake clock: quota months, batches, retention, wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import make_settings
from tests.dns_server import LoopbackDNS
from tickstem_tui.clock import FakeClock, utc
from tickstem_tui.config import Settings
from tickstem_tui.domain.errors import QuotaExceeded
from tickstem_tui.domain.events import Event, VerificationRecorded
from tickstem_tui.runtime import Runtime
from tickstem_tui.services.verifier import Verifier
from tickstem_tui.store.accounts import OWNER_ACCOUNT_ID, AccountRepository
from tickstem_tui.store.database import Database
from tickstem_tui.store.verifications import VerificationRepository


@pytest.fixture
def settings(tmp_path: Path, dns_server: LoopbackDNS) -> Settings:
    return make_settings(tmp_path, dns_server=dns_server.address, dns_timeout_secs=0.5)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = await Database.open(settings.db_path)
    await AccountRepository(database).ensure_owner(utc(2026, 1, 1))
    yield database
    await database.close()


def make_verifier(db: Database, clock: FakeClock, settings: Settings) -> Verifier:
    return Verifier(db, VerificationRepository(db), clock, settings)


async def test_quota_resets_with_the_calendar_month(db: Database, settings: Settings) -> None:
    clock = FakeClock(utc(2026, 5, 31, 23, 59))
    verifier = make_verifier(db, clock, settings.replace(max_verifications_per_month=2))
    try:
        await verifier.verify(OWNER_ACCOUNT_ID, "a@goodmail.com")
        await verifier.verify(OWNER_ACCOUNT_ID, "b@goodmail.com")
        with pytest.raises(QuotaExceeded) as err:
            await verifier.verify(OWNER_ACCOUNT_ID, "c@goodmail.com")
        assert err.value.message.endswith("it resets on 2026-06-01")
        assert await verifier.repo.count(OWNER_ACCOUNT_ID) == 2
        await clock.set(utc(2026, 6, 1, 0, 0, 1))
        await verifier.verify(OWNER_ACCOUNT_ID, "c@goodmail.com")
        assert await verifier.usage(OWNER_ACCOUNT_ID) == 1
    finally:
        await verifier.close()


async def test_quota_is_off_by_default(db: Database, settings: Settings) -> None:
    assert settings.max_verifications_per_month == 0
    verifier = make_verifier(db, FakeClock(utc(2026, 5, 1)), settings)
    try:
        results = await verifier.verify_many(OWNER_ACCOUNT_ID, [f"u{i}@goodmail.com" for i in range(600)])
        assert len(results) == 600 and all(r.valid for r in results)
        assert await verifier.usage(OWNER_ACCOUNT_ID) == 600  # still counted, so a quota set later is accurate
    finally:
        await verifier.close()


async def test_batch_keeps_input_order_and_reports_progress(db: Database, settings: Settings) -> None:
    verifier = make_verifier(db, FakeClock(utc(2026, 5, 1)), settings)
    addresses = ["x@nomail.org", "admin@goodmail.com", "bad@@x", "jane@aonly.net", "x@nomail.org"] * 20
    seen: list[tuple[int, int]] = []
    try:
        results = await verifier.verify_many(
            OWNER_ACCOUNT_ID, addresses, metered=False, concurrency=7, progress=lambda d, t: seen.append((d, t))
        )
    finally:
        await verifier.close()
    assert [r.email for r in results] == addresses
    assert [r.valid for r in results[:5]] == [False, True, False, True, False]
    assert seen == [(i, 100) for i in range(1, 101)]
    assert len({r.id for r in results}) == 100


async def test_batch_stops_at_the_quota(db: Database, settings: Settings) -> None:
    verifier = make_verifier(db, FakeClock(utc(2026, 5, 1)), settings.replace(max_verifications_per_month=5))
    try:
        with pytest.raises(QuotaExceeded):
            await verifier.verify_many(OWNER_ACCOUNT_ID, [f"u{i}@goodmail.com" for i in range(20)], concurrency=4)
        assert await verifier.repo.count(OWNER_ACCOUNT_ID) == 5
    finally:
        await verifier.close()


async def test_history_is_pruned_after_the_retention(settings: Settings, fake_clock: FakeClock) -> None:
    async with Runtime(settings.replace(verification_retention_days=30), clock=fake_clock) as runtime:
        verifier = runtime.services.verifier
        owner = runtime.services.accounts.owner_id
        old = await verifier.verify(owner, "old@goodmail.com")
        await fake_clock.advance(timedelta(days=20))
        recent = await verifier.verify(owner, "recent@goodmail.com")
        await fake_clock.advance(timedelta(days=11))
        pruned = await runtime.retention.prune_once()
        assert pruned["verifications"] == 1
        assert [v.id for v in await verifier.history(owner, 10, 0)] == [recent.id]
        assert old.id != recent.id
        # Pruning history hands no quota back: May's usage is still counted.
        assert await verifier.repo.usage(owner, "2026-05") == 2


async def test_history_is_per_account(db: Database, settings: Settings) -> None:
    verifier = make_verifier(db, FakeClock(utc(2026, 5, 1)), settings)
    try:
        await verifier.verify(OWNER_ACCOUNT_ID, "mine@goodmail.com")
        assert await verifier.history("acct_someone_else", 20, 0) == []
    finally:
        await verifier.close()


async def test_disposable_list_comes_from_the_package_plus_settings(db: Database, settings: Settings) -> None:
    verifier = make_verifier(
        db,
        FakeClock(utc(2026, 5, 1)),
        settings.replace(disposable_additions=("tempbox.dev",), disposable_exclusions=("mailinator.com",)),
    )
    try:
        assert (await verifier.check("x@tempbox.dev")).disposable
        mailinator = await verifier.check("x@inbox.mailinator.com")
        assert not mailinator.disposable and mailinator.valid
        assert len(verifier.disposable) > 5000
    finally:
        await verifier.close()


async def test_each_stored_verification_is_announced_on_the_bus(settings: Settings, fake_clock: FakeClock) -> None:
    async with Runtime(settings, clock=fake_clock) as runtime:
        events: list[Event] = []
        runtime.bus.subscribe(events.append)
        result = await runtime.services.verifier.verify(runtime.services.accounts.owner_id, "x@nullmx.org")
        announced = [e for e in events if isinstance(e, VerificationRecorded)]
        assert announced == [VerificationRecorded(result.account_id, result.id, "x@nullmx.org", False, result.reason)]
