"""What every channel shares: the delivery error and the channel protocol."""

from __future__ import annotations

from typing import Protocol

from tickstem_tui.domain.alerts import Alert


class DeliveryError(Exception):
    """The channel could not deliver; the message says why (recorded, shown in the console)."""


class Channel(Protocol):
    kind: str
    target: str
    """Where it goes, safe to show (an address or a host, never a token)."""

    async def send(self, alert: Alert) -> None: ...
