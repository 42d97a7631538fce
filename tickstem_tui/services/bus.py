"""In-process event bus: services publish small frozen events, listeners subscribe with callbacks."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tickstem_tui.domain.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out. Listeners must not block; one that raises is logged and the rest still run."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns the function that removes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %r", listener, event)
