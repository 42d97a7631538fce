"""The aiohttp application factory and the server that runs it inside the runtime's loop."""

from __future__ import annotations

import logging

from aiohttp import web

from tickstem_tui.api import cronsafe, v1_heartbeats, v1_jobs, v1_monitors, v1_verify
from tickstem_tui.api.http import json_response
from tickstem_tui.api.keys import ANSWERS, SERVICES
from tickstem_tui.api.middlewares import collapse_slashes, json_errors
from tickstem_tui.domain.ratelimit import RateLimiter
from tickstem_tui.facade import Services

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 32 * 1024
"""Room for a CronSafe fail ping carrying 2,000 non-ASCII characters of output in its URL."""


async def health(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "ok"})


def create_app(services: Services) -> web.Application:
    app = web.Application(
        middlewares=[
            json_errors,
            cronsafe.rate_limit_middleware(RateLimiter(services.settings.rate_limits)),
            collapse_slashes,
        ],
        client_max_size=services.settings.max_request_bytes,
        handler_args={"max_line_size": MAX_REQUEST_LINE, "max_field_size": MAX_REQUEST_LINE},
    )
    app[SERVICES] = services
    app[ANSWERS] = {}
    app.router.add_get("/healthz", health, name="health", allow_head=True)
    app.router.add_routes(v1_jobs.routes())
    app.router.add_routes(v1_verify.routes())
    app.router.add_routes(v1_monitors.routes())
    app.router.add_routes(v1_heartbeats.routes())
    app.router.add_routes(cronsafe.routes())
    return app


class HttpServer:
    """Starts the app on host:port (port 0 picks a free one) without touching signal handlers."""

    def __init__(self, app: web.Application, host: str, port: int, shutdown_timeout: float) -> None:
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout)
        self._host = host
        self._port = port
        self.port = port

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self.port = site.port

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self._runner.cleanup()
