"""CronSafe face: `/api/auth/*`, `/api/monitors` (JWT), `/ping/{slug}` (no auth), `/api/badge/{slug}`, rate limits."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tickstem_tui.api.http import (
    AccountHandler,
    bearer_token,
    error_response,
    json_response,
    map_domain_errors,
    query_int,
    read_json_object,
    services,
)
from tickstem_tui.domain.badge import badge_message, render_badge
from tickstem_tui.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    QuotaExceeded,
    Unauthorized,
    ValidationError,
)
from tickstem_tui.domain.heartbeats import Heartbeat, PingKind, PingRecord
from tickstem_tui.domain.ratelimit import RateLimiter
from tickstem_tui.domain.times import rfc3339
from tickstem_tui.services.users import User

CRONSAFE_ERRORS: dict[type[DomainError], int] = {
    ValidationError: 400,
    Unauthorized: 401,
    Forbidden: 403,
    QuotaExceeded: 403,
    NotFound: 404,
    Conflict: 409,
}
NO_STORE = {"Cache-Control": "no-store"}
BADGE_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Expires": "0"}


def jwt_required(handler: AccountHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """CronSafe REST endpoint: a valid, unexpired bearer JWT names the account."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        token = bearer_token(request)
        if not token:
            return error_response(401, "Missing authorization token")
        account_id = services(request).users.account_for_token(token)
        if account_id is None:
            return error_response(401, "Invalid or expired token")
        return await map_domain_errors(CRONSAFE_ERRORS, handler, request, account_id)

    return wrapped


def public(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Handler:
    """An unauthenticated CronSafe endpoint with the same error mapping."""

    async def call(request: web.Request, _: str) -> web.StreamResponse:
        return await handler(request)

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        return await map_domain_errors(CRONSAFE_ERRORS, call, request, "")

    return wrapped


def user_to_dict(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "plan": user.plan, "created_at": rfc3339(user.created_at)}


def monitor_to_dict(monitor: Heartbeat) -> dict[str, Any]:
    return {
        "id": monitor.id,
        "name": monitor.name,
        "slug": monitor.slug,
        "expected_interval_minutes": monitor.spec.interval_secs // 60,
        "grace_period_minutes": monitor.spec.grace_secs // 60,
        "status": monitor.status,
        "last_ping_at": rfc3339(monitor.last_ping_at),
        "alert_channels": monitor.alert_channels,
        "created_at": rfc3339(monitor.created_at),
        "updated_at": rfc3339(monitor.updated_at),
        "next_expected_at": rfc3339(monitor.next_expected_at),
        "last_start_at": rfc3339(monitor.last_start_at),
        "last_duration_ms": monitor.last_duration_ms,
        "last_failure_output": monitor.last_failure_output,
    }


def ping_to_dict(ping: PingRecord) -> dict[str, Any]:
    return {
        "id": ping.id,
        "monitor_id": ping.heartbeat_id,
        "received_at": rfc3339(ping.received_at),
        "ip_address": ping.ip,
        "kind": ping.kind.value,
        "output": ping.output,
        "duration_ms": ping.duration_ms,
    }


# -- accounts ------------------------------------------------------------------------------------
@public
async def register(request: web.Request) -> web.StreamResponse:
    user, token = await services(request).users.register(await read_json_object(request))
    return json_response({"user": user_to_dict(user), "token": token}, status=201)


@public
async def login(request: web.Request) -> web.StreamResponse:
    user, token = await services(request).users.login(await read_json_object(request))
    return json_response({"user": user_to_dict(user), "token": token})


# -- monitors ------------------------------------------------------------------------------------
@jwt_required
async def create_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    monitor = await services(request).cronsafe.create(account_id, await read_json_object(request))
    return json_response(monitor_to_dict(monitor), status=201)


@jwt_required
async def list_monitors(request: web.Request, account_id: str) -> web.StreamResponse:
    monitors = await services(request).cronsafe.list_monitors(account_id)
    return json_response([monitor_to_dict(m) for m in monitors])


@jwt_required
async def get_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    monitor = await services(request).cronsafe.get(account_id, request.match_info["id"])
    return json_response(monitor_to_dict(monitor))


@jwt_required
async def update_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    body = await read_json_object(request)
    monitor = await services(request).cronsafe.update(account_id, request.match_info["id"], body)
    return json_response(monitor_to_dict(monitor))


@jwt_required
async def delete_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    await services(request).cronsafe.delete(account_id, request.match_info["id"])
    return web.Response(status=204)


@jwt_required
async def monitor_pings(request: web.Request, account_id: str) -> web.StreamResponse:
    limit = query_int(request, "limit", default=50, low=1, high=200)
    offset = query_int(request, "offset", default=0, low=0, high=10**9)
    pings = await services(request).cronsafe.pings(account_id, request.match_info["id"], limit, offset)
    return json_response([ping_to_dict(p) for p in pings])


# -- pings and badges (no auth; any Authorization header is ignored) -----------------------------
async def _ping(request: web.Request, kind: PingKind) -> web.StreamResponse:
    output = request.query.get("output")
    if kind is PingKind.SUCCESS and request.query.get("status", "").lower() == "fail":
        kind = PingKind.FAIL
    await services(request).cronsafe.ping(
        request.match_info["slug"], kind, output, request.remote, request.headers.get("User-Agent")
    )
    return json_response({"ok": True}, headers=NO_STORE)


@public
async def ping(request: web.Request) -> web.StreamResponse:
    return await _ping(request, PingKind.SUCCESS)


@public
async def ping_start(request: web.Request) -> web.StreamResponse:
    return await _ping(request, PingKind.START)


async def badge(request: web.Request) -> web.StreamResponse:
    status = await services(request).cronsafe.badge_status(request.match_info["slug"])
    return web.Response(text=render_badge(badge_message(status)), content_type="image/svg+xml", headers=BADGE_HEADERS)


def routes() -> list[web.RouteDef]:
    # Each path's methods added together, so that they share one resource: aiohttp tries a path's
    # resources one after another, and a POST ping would otherwise fail on the GET and HEAD ones first.
    pings = [
        web.route(method, prefix + suffix, handler)
        for prefix in ("/ping", "/api/ping")
        for suffix, handler in (("/{slug}", ping), ("/{slug}/start", ping_start))
        for method in ("GET", "POST")  # GET brings HEAD along
    ]
    return [
        web.post("/api/auth/register", register),
        web.post("/api/auth/login", login),
        web.post("/api/monitors", create_monitor),
        web.get("/api/monitors", list_monitors, allow_head=False),
        web.get("/api/monitors/{id}", get_monitor, allow_head=False),
        web.put("/api/monitors/{id}", update_monitor),
        web.delete("/api/monitors/{id}", delete_monitor),
        web.get("/api/monitors/{id}/pings", monitor_pings, allow_head=False),
        web.get("/api/badge/{slug}", badge),
        *pings,
    ]


# -- rate limits ---------------------------------------------------------------------------------
_SLASHES = re.compile(r"/{2,}")


def rate_scope(path: str) -> str | None:
    """Which CronSafe limit a path counts against (None: not rate limited)."""
    path = _SLASHES.sub("/", path)
    if path.startswith(("/ping/", "/api/ping/")):
        return "ping"
    if path.startswith("/api/auth/"):
        return "auth"
    if path.startswith("/api/"):
        return "api"
    return None


def rate_limit_middleware(limiter: RateLimiter, clock: Callable[[], float] = time.time) -> Any:
    """Per client IP, one-minute windows; every response in a limited scope carries the X-RateLimit headers."""

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        scope = rate_scope(request.path)
        if scope is None or not limiter.limits.get(scope):
            return await handler(request)
        verdict = limiter.hit(scope, request.remote or "unknown", clock())
        if not verdict.allowed:
            return error_response(
                429, f"Too many requests: try again in {verdict.retry_after} seconds", headers=verdict.headers()
            )
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update(verdict.headers())
            raise
        response.headers.update(verdict.headers())
        return response

    return rate_limit
