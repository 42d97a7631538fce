"""Fixed one-minute windows per client and scope (CronSafe's documented limits), with the numbers for headers."""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_SECS = 60
MAX_TRACKED = 100_000
"""Clients tracked per window at most; beyond it the oldest window's counters are dropped first."""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int
    """Epoch second at which the window resets (the X-RateLimit-Reset header)."""
    retry_after: int
    """Whole seconds to wait before trying again (Retry-After); 0 when allowed."""

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    """Counts requests per (scope, client) in the current minute; memory is bounded by MAX_TRACKED."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self._window = -1
        self._counts: dict[tuple[str, str], int] = {}

    def hit(self, scope: str, client: str, now: float) -> Verdict:
        limit = self.limits[scope]
        window = int(now // WINDOW_SECS)
        if window != self._window:
            self._window, self._counts = window, {}
        reset_at = (window + 1) * WINDOW_SECS
        key = (scope, client)
        count = self._counts.get(key, 0)
        if count >= limit:
            return Verdict(
                False,
                limit,
                0,
                reset_at,
                max(1, int(reset_at - now + 0.999)),
            )
        if len(self._counts) >= MAX_TRACKED:
            self._counts.clear()
        self._counts[key] = count + 1
        return Verdict(True, limit, limit - count - 1, reset_at, 0)
