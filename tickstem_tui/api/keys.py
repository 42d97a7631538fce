"""Typed application keys."""

from __future__ import annotations

from aiohttp import web

from tickstem_tui.facade import Services

SERVICES = web.AppKey("services", Services)
ANSWERS = web.AppKey("answers", dict[str, tuple[int, bytes]])
"""Rendered GET answers by path and account, with the data version they were rendered at."""
