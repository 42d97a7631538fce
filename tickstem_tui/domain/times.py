"""UTC time helpers: the wire format (RFC 3339 with zone) and the storage format (epoch milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime, truncated exactly as rfc3339() truncates (no float error)."""
    return (moment - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


def opt_from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


def opt_to_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def rfc3339(moment: datetime | None) -> str | None:
    """`2026-05-01T00:00:00Z` or with milliseconds; None stays None (never an empty string)."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat() truncates to milliseconds like the old strftime form and is ~2.5x faster (lists render
    # four of these per row); its "+00:00" suffix becomes "Z".
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")[:-6] + "Z"
