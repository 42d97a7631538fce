"""CronSafe accounts: register and log in with email and password, bearer JWTs valid for 30 days."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email

from tickstem_tui.clock import Clock
from tickstem_tui.domain.errors import Conflict, Unauthorized, ValidationError
from tickstem_tui.domain.ids import new_uuid
from tickstem_tui.domain.times import from_ms, to_ms
from tickstem_tui.store.database import Database

TOKEN_LIFETIME = timedelta(days=30)
JWT_SECRET_NAME = "cronsafe_jwt_hs256"
PASSWORD_MIN, PASSWORD_MAX = 8, 128


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    plan: str
    created_at: datetime


class UserService:
    """Passwords are argon2id hashes, computed off the loop; JWTs are HS256 with a secret generated once."""

    def __init__(self, db: Database, clock: Clock, jwt_secret: str) -> None:
        self._db = db
        self._clock = clock
        self._secret = jwt_secret
        self._hasher = PasswordHasher()
        self._decoy: str | None = None
        """Verified against when the email is unknown, so a miss costs as much as a wrong password (made lazily,
        off the loop: hashing takes a few hundred milliseconds)."""

    async def register(self, data: dict[str, Any]) -> tuple[User, str]:
        email, password = _credentials(data)
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValidationError(f"invalid email: {exc}") from exc
        if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
            raise ValidationError(f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(new_uuid(), email, "free", self._clock.now())
        changed = await self._db.execute(
            "INSERT INTO accounts (id, kind, email, password_hash, plan, created_at) "
            "VALUES (?, 'cronsafe', ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
            (user.id, user.email, password_hash, user.plan, to_ms(user.created_at)),
        )
        if changed == 0:
            raise Conflict("Email already registered")
        return user, self.issue_token(user)

    async def login(self, data: dict[str, Any]) -> tuple[User, str]:
        email, password = _credentials(data)
        row = await self._db.fetch_one("SELECT * FROM accounts WHERE email = ? AND kind = 'cronsafe'", (email.strip(),))
        if row is None:
            if self._decoy is None:
                self._decoy = await asyncio.to_thread(self._hasher.hash, "decoy password, never matches")
            stored: str = self._decoy
        else:
            stored = row["password_hash"]
        if not await asyncio.to_thread(self._verify, stored, password) or row is None:
            raise Unauthorized("Invalid email or password")
        user = User(row["id"], row["email"], row["plan"], from_ms(row["created_at"]))
        return user, self.issue_token(user)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False

    def issue_token(self, user: User) -> str:
        now = self._clock.now()
        claims = {
            "sub": user.id,
            "email": user.email,
            "iat": int(now.timestamp()),
            "exp": int((now + TOKEN_LIFETIME).timestamp()),
        }
        token: str = _jwt().encode(claims, self._secret, algorithm="HS256")
        return token

    def account_for_token(self, token: str) -> str | None:
        """The account id a valid, unexpired token names; None otherwise."""
        jwt = _jwt()
        try:
            # Expiry is checked against the injected clock, not the host's, so it is testable in fake time.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["sub", "exp", "iat"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return None
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= self._clock.now().timestamp():
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None


def _credentials(data: dict[str, Any]) -> tuple[str, str]:
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not email.strip():
        raise ValidationError("email is required")
    if not isinstance(password, str) or not password:
        raise ValidationError("password is required")
    return email.strip(), password


def _jwt() -> ModuleType:
    # Imported on first use: PyJWT pulls in `cryptography`, ~50 ms of every start-up otherwise, and only
    # CronSafe accounts need it.
    import jwt

    return jwt
