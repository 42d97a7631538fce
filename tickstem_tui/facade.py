"""The services both faces (REST API and TUI) call: one object handed out by the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tickstem_tui.clock import Clock
from tickstem_tui.config import Settings
from tickstem_tui.services.accounts import AccountService
from tickstem_tui.services.bus import EventBus
from tickstem_tui.services.cronsafe import CronSafeService
from tickstem_tui.services.heartbeats import HeartbeatService
from tickstem_tui.services.jobs import JobService
from tickstem_tui.services.monitors import MonitorService
from tickstem_tui.services.users import UserService
from tickstem_tui.services.verifier import Verifier


@dataclass(slots=True)
class Services:
    settings: Settings
    clock: Clock
    bus: EventBus
    accounts: AccountService
    jobs: JobService
    monitors: MonitorService
    verifier: Verifier
    heartbeats: HeartbeatService
    users: UserService
    cronsafe: CronSafeService
    data_version: Callable[[], int]
    """Changes whenever anything is committed to the store, by this process or another: the key for
    answers kept until the data under them changes."""
