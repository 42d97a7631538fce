"""A real session D-Bus (dbus-daemon) with a small org.freedesktop.Notifications service that records calls."""

# No `from __future__ import annotations`: dbus-fast reads the D-Bus signatures from the annotations.

import asyncio
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal


@dataclass
class Received:
    app_name: str
    summary: str
    body: str
    urgency: int | None


class NotificationServer(ServiceInterface):
    """Implements the parts of the freedesktop notification spec that clients call."""

    def __init__(self) -> None:
        super().__init__("org.freedesktop.Notifications")
        self.received: list[Received] = []
        self.arrived = asyncio.Event()

    @method()
    def Notify(  # D-Bus method names are CamelCase
        self,
        app_name: "s",
        replaces_id: "u",
        app_icon: "s",
        summary: "s",
        body: "s",
        actions: "as",
        hints: "a{sv}",
        expire_timeout: "i",
    ) -> "u":
        urgency = hints.get("urgency")
        self.received.append(Received(app_name, summary, body, urgency.value if urgency is not None else None))
        self.arrived.set()
        return len(self.received)

    @method()
    def GetCapabilities(self) -> "as":
        return ["body"]

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["tickstem-test", "tickstem", "1.0", "1.2"]

    @method()
    def CloseNotification(self, notification_id: "u") -> None:
        return None

    @signal()
    def NotificationClosed(self) -> "uu":
        return [0, 0]

    @signal()
    def ActionInvoked(self) -> "us":
        return [0, ""]

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async def wait() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.received


class SessionBus:
    """`dbus-daemon --session` on a socket in a temp folder."""

    def __init__(self, folder: Path) -> None:
        self.address = f"unix:path={folder / 'bus'}"
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={self.address}", "--print-address=1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # printed once the socket is listening

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


async def serve_notifications(address: str) -> tuple[MessageBus, NotificationServer]:
    bus = await MessageBus(bus_address=address).connect()
    server = NotificationServer()
    bus.export("/org/freedesktop/Notifications", server)
    await bus.request_name("org.freedesktop.Notifications")
    return bus, server
