"""Which state changes deserve an alert, and the words an alert uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tickstem_tui.domain.events import Flipped
from tickstem_tui.domain.monitors import CERTIFICATE_EXPIRING

DOWN_STATES = frozenset({"failing", "down"})
UP_STATES = frozenset({"active", "up"})

SUBJECT_WORDS = {"job": "Job", "monitor": "Monitor", "heartbeat": "Heartbeat"}


class Direction(StrEnum):
    DOWN = "down"
    UP = "up"
    WARNING = "warning"
    """Still up, but needs attention: a TLS certificate close to expiry."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing to tell people: something went down, came back, or needs attention soon."""

    flip_id: int
    account_id: str
    subject_kind: str
    subject_id: str
    subject_name: str
    direction: Direction
    reason: str
    at: datetime

    @property
    def title(self) -> str:
        noun = SUBJECT_WORDS.get(self.subject_kind, self.subject_kind.title())
        if self.direction is Direction.DOWN:
            return f"{noun} “{self.subject_name}” is failing"
        if self.direction is Direction.WARNING:
            return f"{noun} “{self.subject_name}”: {self.reason or 'needs attention'}"
        return f"{noun} “{self.subject_name}” recovered"

    @property
    def text(self) -> str:
        if self.direction is Direction.WARNING or not self.reason:
            return self.title
        return f"{self.title}: {self.reason}"


def alert_for(flip_id: int, flip: Flipped) -> Alert | None:
    """An alert for a flip into failure or out of it, or a certificate about to expire; None for quieter
    changes (pausing, a first ping, a renewed certificate)."""
    if flip.new_status == CERTIFICATE_EXPIRING:
        direction = Direction.WARNING
    elif flip.new_status in DOWN_STATES and flip.old_status not in DOWN_STATES:
        direction = Direction.DOWN
    elif flip.old_status in DOWN_STATES and flip.new_status in UP_STATES:
        direction = Direction.UP
    else:
        return None
    return Alert(
        flip_id=flip_id,
        account_id=flip.account_id,
        subject_kind=flip.subject_kind,
        subject_id=flip.subject_id,
        subject_name=flip.subject_name,
        direction=direction,
        reason=flip.reason,
        at=flip.at,
    )
