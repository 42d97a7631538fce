"""The console app: five screens (modes) over the services, kept live by the bridge; no business rules here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tickstem_tui import heap
from tickstem_tui.domain.errors import DomainError
from tickstem_tui.facade import Services
from tickstem_tui.services.accounts import AccountService
from tickstem_tui.tui.bridge import Bridge, ConsoleChanges
from tickstem_tui.tui.model import UPTIME_REFRESH_SECS, ConsoleModel, Delta
from tickstem_tui.tui.screens.base import SCREENS, ConsoleScreen, EntityScreen
from tickstem_tui.tui.screens.heartbeats import HeartbeatsScreen
from tickstem_tui.tui.screens.help import HelpScreen, app_sections
from tickstem_tui.tui.screens.jobs import JobsScreen
from tickstem_tui.tui.screens.monitors import MonitorsScreen
from tickstem_tui.tui.screens.overview import OverviewScreen
from tickstem_tui.tui.screens.verify import VerifyScreen
from tickstem_tui.tui.widgets.virtual_table import VirtualTable

log = logging.getLogger(__name__)

STYLES = Path(__file__).parent / "styles"

SCREEN_CLASSES: dict[str, type[ConsoleScreen]] = {
    "overview": OverviewScreen,
    "jobs": JobsScreen,
    "monitors": MonitorsScreen,
    "heartbeats": HeartbeatsScreen,
    "verify": VerifyScreen,
}


class TickstemApp(App[None]):
    """`await TickstemApp(runtime.services, server_url=runtime.base_url).run_async()` inside the runtime."""

    TITLE = "tickstem-tui"
    # Absolute, so subclasses in other modules (the sample console) find the sheets too.
    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLES / "app.tcss", STYLES / "screens.tcss", STYLES / "dialogs.tcss"]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = dict(SCREEN_CLASSES)
    DEFAULT_MODE = "overview"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"switch_mode('{mode}')", label, show=False) for key, mode, label in SCREENS),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        services: Services | None = None,
        *,
        server_url: str | None = None,
        api_key: str | None = None,
        account_id: str = AccountService.owner_id,
        cursor_blink: bool = True,
        reveal_key: bool = False,
    ) -> None:
        super().__init__()
        self.account_id = account_id
        self.api_key = api_key
        """The owner's plain key when this process knows it (first start, or --api-key); never read back."""
        self.cursor_blink = cursor_blink
        self.reveal_key = reveal_key
        """Show the key at once (the first start, when it was just created and cannot be shown again)."""
        self._server_url = server_url
        self.screens_prepared = False
        """Every mode's screen is built (see `_prepare_screens`)."""
        self.services: Services
        self.model: ConsoleModel
        self.bridge: Bridge
        if services is not None:
            self.attach(services)

    def attach(self, services: Services) -> None:
        """Bind the app to running services (the sample app does this in `on_load`)."""
        self.services = services
        self.model = ConsoleModel(services, self.account_id)
        self.bridge = Bridge(self, services.bus, self.account_id, now=services.clock.now, names=self.model.name_of)

    @property
    def server_url(self) -> str:
        if self._server_url:
            return self._server_url
        settings = self.services.settings
        return f"http://{settings.host}:{settings.port}"

    def database_label(self) -> str:
        return str(self.services.settings.db_path)

    # -- lifecycle ---------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.bridge.start()
        self.run_worker(self._load(), group="model", exit_on_error=False)
        self.set_interval(UPTIME_REFRESH_SECS, self._refresh_uptime)

    async def on_unmount(self) -> None:
        if hasattr(self, "bridge"):
            self.bridge.stop()

    async def _load(self) -> None:
        try:
            await self.model.load()
        except Exception:
            log.exception("loading the console's data failed")
            self.notify("Could not load the data; details are in the log file.", severity="error")
        self.push_to_screens(None)
        await self._prepare_screens()
        # With a large account the heap holds a few hundred thousand long-lived objects; each full
        # collection walked them all and stalled the loop for ~90 ms (the slowest key presses).
        self.call_after_refresh(heap.settle)

    async def _prepare_screens(self) -> None:
        """Build every mode's screen now, one per loop turn, so that a first visit is only a switch.

        Textual builds a mode's screen, and applies the whole stylesheet again, the first time it is shown:
        55-85 ms with a large account, over the 50 ms a key may take. Done here, behind the first screen,
        a key pressed meanwhile waits for at most one screen. `_init_mode` is Textual's own first step of
        `switch_mode` (there is no public way to build a mode without showing it).
        """
        try:
            for mode in self.MODES:
                if mode not in self._screen_stacks:
                    await self._init_mode(mode)
                    await asyncio.sleep(0)
        except Exception:
            log.exception("building the screens ahead failed; each is built when first shown instead")
        self.screens_prepared = True

    def _refresh_uptime(self) -> None:
        self.run_worker(self._uptime(), group="model", exit_on_error=False)

    async def _uptime(self) -> None:
        try:
            delta = await self.model.refresh_monitors()
        except Exception:
            log.exception("refreshing uptime failed")
            return
        if delta:
            self.push_to_screens(delta)

    @on(ConsoleChanges)
    def _changes(self, message: ConsoleChanges) -> None:
        changes = message.changes
        for toast in changes.toasts:
            self.notify(
                toast.message,
                title=toast.title,
                severity=toast.severity,  # type: ignore[arg-type]
                timeout=12 if toast.severity == "error" else 6,
            )
        if changes.dropped_toasts:
            self.notify(f"…and {changes.dropped_toasts} more changes (see the overview)", severity="warning")
        self.run_worker(self._apply(message), group="model", exit_on_error=False)

    async def _apply(self, message: ConsoleChanges) -> None:
        delta: Delta | None
        try:
            delta = await self.model.apply(message.changes)
        except Exception:
            log.exception("applying changes failed; reloading everything")
            try:
                await self.model.load()
            except Exception:
                log.exception("reloading failed too")
            delta = None
        finally:
            self.bridge.done()
        self.push_to_screens(delta)

    def push_to_screens(self, delta: Delta | None) -> None:
        """Repaint what changed on every console screen in the current stack (under any open dialog)."""
        if delta is not None and not delta:
            return
        for screen in self.screen_stack:
            if isinstance(screen, ConsoleScreen):
                try:
                    screen.sync(delta)
                except Exception:
                    log.exception("updating %s failed", type(screen).__name__)

    # -- actions -----------------------------------------------------------------------------------
    def act(self, action: Callable[[], Awaitable[object]], success: str | None = None) -> None:
        """Run a service call off the message loop; domain errors become toasts, never crashes."""
        self.run_worker(self._act(action, success), group="actions", exit_on_error=False)

    async def _act(self, action: Callable[[], Awaitable[object]], success: str | None) -> None:
        try:
            await action()
        except DomainError as exc:
            self.notify(exc.message, title="Not done", severity="error")
            return
        except Exception as exc:
            log.exception("console action failed")
            self.notify(f"Failed: {exc}. Details are in the log file.", severity="error")
            return
        if success:
            self.notify(success)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screens = [(label, SCREEN_CLASSES[mode]) for _, mode, label in SCREENS]
        self.push_screen(HelpScreen(app_sections(type(self), screens)))

    def show_entity(self, mode: str, entity_id: str) -> None:
        """Switch to a screen and put the cursor on one of its rows (the overview's problems do this)."""

        def select() -> None:
            screen = self.screen
            if isinstance(screen, EntityScreen):
                screen.sync(None)
                screen.query_one("#main", VirtualTable).move_cursor_to_key(entity_id)

        self.switch_mode(mode)
        self.call_after_refresh(select)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for key, mode, label in SCREENS:
            yield SystemCommand(f"Go to {label}", f"Show the {label.lower()} screen (key {key})", self._goto(mode))
        yield SystemCommand("New job", "Create a cron job", self._new("jobs"))
        yield SystemCommand("New monitor", "Create an uptime monitor", self._new("monitors"))
        yield SystemCommand("New heartbeat", "Create a heartbeat (Tickstem or CronSafe)", self._new("heartbeats"))
        yield SystemCommand("Show the API key", "Reveal the owner's API key on the overview", self._api_key("toggle"))
        yield SystemCommand("Create an API key", "Mint a new owner key (shown once)", self._api_key("new"))
        yield SystemCommand("Keys", "List every key binding", self.action_help)
        yield from super().get_system_commands(screen)

    def _goto(self, mode: str) -> Callable[[], None]:
        def run() -> None:
            self.switch_mode(mode)

        return run

    def _new(self, mode: str) -> Callable[[], None]:
        def run() -> None:
            self.switch_mode(mode)
            self.call_after_refresh(lambda: self.screen.run_action("new"))

        return run

    def _api_key(self, what: str) -> Callable[[], None]:
        def run() -> None:
            self.switch_mode("overview")
            action = "toggle_key" if what == "toggle" else "new_key"
            self.call_after_refresh(lambda: self.screen.run_action(action))

        return run
