"""Desktop notifications over the session D-Bus (org.freedesktop.Notifications) via desktop-notifier."""

from __future__ import annotations

import asyncio
import logging

from desktop_notifier import DesktopNotifier, Urgency

from tickstem_tui.domain.alerts import Alert, Direction
from tickstem_tui.notify.base import DeliveryError

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECS = 5.0


class DesktopChannel:
    kind = "desktop"
    target = "this desktop"

    def __init__(self, app_name: str = "tickstem-tui") -> None:
        self._notifier = DesktopNotifier(app_name=app_name)

    async def close(self) -> None:
        """Disconnect from the session bus (desktop-notifier has no public close; its D-Bus backend keeps `bus`)."""
        bus = getattr(self._notifier._backend, "bus", None)
        if bus is not None and getattr(bus, "connected", False):
            bus.disconnect()
            await bus.wait_for_disconnect()

    async def send(self, alert: Alert) -> None:
        dispatched = asyncio.Event()
        urgency = Urgency.Critical if alert.direction is Direction.DOWN else Urgency.Normal
        try:
            # desktop-notifier logs and swallows failures; only its dispatch callback proves delivery.
            await asyncio.wait_for(
                self._notifier.send(
                    title=alert.title,
                    message=alert.reason or alert.title,
                    urgency=urgency,
                    on_dispatched=dispatched.set,
                ),
                SEND_TIMEOUT_SECS,
            )
        except TimeoutError as exc:
            raise DeliveryError("the notification service did not answer") from exc
        if not dispatched.is_set():
            raise DeliveryError("no desktop notification service on the session bus")
