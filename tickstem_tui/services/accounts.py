"""The local owner account and its API keys: creation, authentication and revocation."""

from __future__ import annotations

from tickstem_tui.clock import Clock
from tickstem_tui.domain.errors import NotFound
from tickstem_tui.domain.ids import new_api_key
from tickstem_tui.store.accounts import OWNER_ACCOUNT_ID, AccountRepository, ApiKey


class AccountService:
    def __init__(self, repo: AccountRepository, clock: Clock) -> None:
        self.repo = repo
        self._clock = clock

    owner_id = OWNER_ACCOUNT_ID

    async def ensure_owner(self) -> str | None:
        """Create the owner on first start; returns the owner's first API key then, else None."""
        if not await self.repo.ensure_owner(self._clock.now()):
            return None
        key, _ = await self.create_key("owner (first start)")
        return key

    async def create_key(self, name: str, account_id: str = OWNER_ACCOUNT_ID) -> tuple[str, ApiKey]:
        """Mint a new key; the plain key is returned once and only its hash is stored."""
        key = new_api_key()
        record = await self.repo.add_api_key(account_id, name, key, self._clock.now())
        return key, record

    async def accept_key(self, key: str, name: str = "--api-key") -> ApiKey:
        """Make a caller-chosen key valid for the owner (idempotent)."""
        return await self.repo.add_api_key(OWNER_ACCOUNT_ID, name, key, self._clock.now())

    async def authenticate(self, key: str) -> str | None:
        # No in-process cache: `tickstem-tui keys revoke` in another process must take effect at once.
        if not key:
            return None
        return await self.repo.account_for_key(key)

    async def list_keys(self, account_id: str = OWNER_ACCOUNT_ID) -> list[ApiKey]:
        return await self.repo.list_api_keys(account_id)

    async def revoke_key(self, key_id: str, account_id: str = OWNER_ACCOUNT_ID) -> None:
        if not await self.repo.revoke_api_key(account_id, key_id, self._clock.now()):
            raise NotFound(f"no active API key {key_id!r}")
