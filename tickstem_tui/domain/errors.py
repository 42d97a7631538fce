"""Domain errors; each face maps them to its own status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: the message is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(DomainError):
    """Input breaks a rule (bad cron, out-of-range number, wrong type)."""


class NotFound(DomainError):
    """No such thing for this account (another account's things are not found either)."""


class Conflict(DomainError):
    """The change collides with existing state (a duplicate name or email)."""


class QuotaExceeded(DomainError):
    """A configured plan limit would be exceeded."""


class Unauthorized(DomainError):
    """Missing or invalid credentials."""


class Forbidden(DomainError):
    """The thing exists but belongs to someone else (CronSafe says 403 where Tickstem says 404)."""
