"""Typed application keys."""

from __future__ import annotations

from aiohttp import web

from tickstem_tui.facade import Services

SERVICES = web.AppKey("services", Services)
