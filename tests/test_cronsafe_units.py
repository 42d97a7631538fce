"""CronSafe building blocks: rate-limit windows, badge SVGs, and accounts with argon2 and JWT in fake time."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from tickstem_tui.clock import FakeClock, utc
from tickstem_tui.domain.badge import badge_message, render_badge
from tickstem_tui.domain.errors import Conflict, Unauthorized, ValidationError
from tickstem_tui.domain.ids import new_uuid
from tickstem_tui.domain.ratelimit import RateLimiter
from tickstem_tui.services.users import UserService
from tickstem_tui.store.database import Database

SECRET = "a" * 64
SVG = "{http://www.w3.org/2000/svg}"


def test_ids_are_random_version_4_uuids() -> None:
    made = [new_uuid() for _ in range(2000)]
    assert len(set(made)) == len(made)
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # Every hex digit of the random part varies (the version digit and the variant's top bits do not).
    assert {text[19] for text in made} == set("89ab") and len({text[0] for text in made}) == 16


def test_limits_count_per_client_and_scope_and_reset_each_minute() -> None:
    limiter = RateLimiter({"auth": 3, "ping": 5})
    start = 1_800_000_000.0  # a window boundary
    verdicts = [limiter.hit("auth", "10.0.0.1", start + n) for n in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    refused = verdicts[-1]
    assert refused.reset_at == int(start) + 60 and refused.retry_after == 57
    assert refused.headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(start) + 60),
        "Retry-After": "57",
    }
    assert limiter.hit("auth", "10.0.0.2", start + 4).allowed  # another client
    assert limiter.hit("ping", "10.0.0.1", start + 4).allowed  # another scope
    assert limiter.hit("auth", "10.0.0.1", start + 60).allowed  # the next minute
    assert "Retry-After" not in limiter.hit("ping", "x", start).headers()


@pytest.mark.parametrize(
    ("status", "message", "colour"),
    [
        ("up", "passing", "#4c1"),
        ("down", "failing", "#e05d44"),
        ("pending", "unknown", "#9f9f9f"),
        (None, "unknown", "#9f9f9f"),
    ],
)
def test_badges_are_well_formed_svg_with_label_and_colour(status: str | None, message: str, colour: str) -> None:
    assert badge_message(status) == message
    root = ET.fromstring(render_badge(message))
    assert root.tag == f"{SVG}svg" and root.get("aria-label") == f"cron: {message}"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["cron", "cron", message, message]
    assert colour in [r.get("fill") for r in root.iter(f"{SVG}rect")]


@pytest.fixture
async def users(tmp_path: Path) -> UserService:
    db = await Database.open(tmp_path / "u.sqlite3")
    service = UserService(db, FakeClock(utc(2026, 3, 1)), SECRET)
    yield service  # type: ignore[misc]
    await db.close()


async def test_register_login_and_token_lifetime(users: UserService) -> None:
    user, token = await users.register({"email": "Ops@Example.com", "password": "correct horse"})
    assert user.plan == "free" and len(user.id) == 36
    assert users.account_for_token(token) == user.id
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert claims["exp"] - claims["iat"] == 30 * 86400 and claims["sub"] == user.id

    again, token2 = await users.login({"email": user.email, "password": "correct horse"})
    assert again.id == user.id and users.account_for_token(token2) == user.id
    with pytest.raises(Unauthorized):
        await users.login({"email": user.email, "password": "wrong horse!"})
    with pytest.raises(Unauthorized):
        await users.login({"email": "nobody@example.com", "password": "correct horse"})
    with pytest.raises(Conflict, match="already registered"):
        await users.register({"email": "ops@example.com", "password": "another one"})

    await users._clock.advance(timedelta(days=30))  # type: ignore[attr-defined]
    assert users.account_for_token(token) is None  # expired
    assert users.account_for_token(token + "x") is None
    forged = jwt.encode({"sub": user.id, "iat": 0, "exp": 4_000_000_000}, "b" * 64, algorithm="HS256")
    assert users.account_for_token(forged) is None
    none_alg = jwt.encode({"sub": user.id, "iat": 0, "exp": 4_000_000_000}, None, algorithm="none")
    assert users.account_for_token(none_alg) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "email is required"),
        ({"email": "a@b.co"}, "password is required"),
        ({"email": 5, "password": "12345678"}, "email is required"),
        ({"email": "not-an-email", "password": "12345678"}, "invalid email"),
        ({"email": "a@b.co", "password": "1234567"}, "8 to 128"),
        ({"email": "a@b.co", "password": "x" * 129}, "8 to 128"),
    ],
)
async def test_register_rejects_bad_input(users: UserService, body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await users.register(body)
