"""Tickstem uptime API (`/v1/monitors`), every client variant of the contract included."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tickstem_tui.api.http import (
    api_key_required,
    json_response,
    query_int,
    read_json_object,
    services,
)
from tickstem_tui.domain.monitors import Monitor, MonitorCheck, Uptime
from tickstem_tui.domain.times import rfc3339

DEFAULT_CHECKS_LIMIT = 50
MAX_CHECKS_LIMIT = 100


def monitor_to_dict(monitor: Monitor, uptime: Uptime | None = None) -> dict[str, Any]:
    spec = monitor.spec
    uptime = uptime or Uptime()
    return {
        "id": monitor.id,
        "name": spec.name,
        "url": spec.url,
        "interval_secs": spec.interval_secs,
        "timeout_secs": spec.timeout_secs,
        "status": monitor.status.value,
        "ssl_expires_at": rfc3339(monitor.ssl_expires_at),
        "assertions": [
            {"source": a.source.value, "comparison": a.comparison.value, "target": a.target} for a in spec.assertions
        ],
        "next_check_at": rfc3339(monitor.next_check_at),
        "created_at": rfc3339(monitor.created_at),
        "updated_at": rfc3339(monitor.updated_at),
        # Additive fields no SDK reads (Go and Python ignore unknown keys).
        "last_checked_at": rfc3339(monitor.last_checked_at),
        "last_check_status": None if monitor.last_check_status is None else monitor.last_check_status.value,
        "consecutive_failures": monitor.consecutive_failures,
        "uptime_24h": uptime.day,
        "uptime_7d": uptime.week,
        "uptime_30d": uptime.month,
        "avg_response_ms_24h": uptime.avg_response_ms_day,
    }


def check_to_dict(check: MonitorCheck) -> dict[str, Any]:
    return {
        "id": check.id,
        "monitor_id": check.monitor_id,
        "status": check.status.value,
        "status_code": check.status_code,
        "duration_ms": check.duration_ms,
        "error": check.error,
        "ssl_expires_at": rfc3339(check.ssl_expires_at),
        "checked_at": rfc3339(check.checked_at),
    }


async def _render(request: web.Request, account_id: str, monitor: Monitor, status: int = 200) -> web.Response:
    uptime = await services(request).monitors.uptime(account_id, monitor.id)
    return json_response(monitor_to_dict(monitor, uptime.get(monitor.id)), status=status)


@api_key_required()
async def create_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    monitor = await services(request).monitors.create(account_id, await read_json_object(request))
    return await _render(request, account_id, monitor, status=201)


@api_key_required()
async def list_monitors(request: web.Request, account_id: str) -> web.StreamResponse:
    service = services(request).monitors
    monitors = await service.list_monitors(account_id)
    uptime = await service.uptime(account_id)
    return json_response({"monitors": [monitor_to_dict(m, uptime.get(m.id)) for m in monitors]})


@api_key_required()
async def get_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    monitor = await services(request).monitors.get(account_id, request.match_info["id"])
    return await _render(request, account_id, monitor)


@api_key_required()
async def update_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    body = await read_json_object(request)
    monitor = await services(request).monitors.update(account_id, request.match_info["id"], body)
    return await _render(request, account_id, monitor)


@api_key_required()
async def pause_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()  # Go sends no body, Node an empty one typed JSON: both ignored
    monitor = await services(request).monitors.pause(account_id, request.match_info["id"])
    return await _render(request, account_id, monitor)


@api_key_required()
async def resume_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()
    monitor = await services(request).monitors.resume(account_id, request.match_info["id"])
    return await _render(request, account_id, monitor)


@api_key_required()
async def delete_monitor(request: web.Request, account_id: str) -> web.StreamResponse:
    monitor_id = request.match_info["id"]
    await services(request).monitors.delete(account_id, monitor_id)
    # A JSON body, not 204: the npm-published @tickstem/core 0.2.0 parses every body as JSON.
    return json_response({"deleted": True, "id": monitor_id})


@api_key_required()
async def list_checks(request: web.Request, account_id: str) -> web.StreamResponse:
    # Clients disagree on paging (Go forces 1-100, MCP sends any N): clamp, never reject.
    limit = query_int(request, "limit", default=DEFAULT_CHECKS_LIMIT, low=1, high=MAX_CHECKS_LIMIT)
    offset = query_int(request, "offset", default=0, low=0, high=10**9)
    checks = await services(request).monitors.checks(account_id, request.match_info["id"], limit, offset)
    return json_response({"checks": [check_to_dict(c) for c in checks], "limit": limit, "offset": offset})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/v1/monitors", create_monitor, name="v1-monitors-create"),
        web.get("/v1/monitors", list_monitors, name="v1-monitors-list", allow_head=False),
        web.get("/v1/monitors/{id}", get_monitor, name="v1-monitor", allow_head=False),
        web.patch("/v1/monitors/{id}", update_monitor),
        web.delete("/v1/monitors/{id}", delete_monitor),
        # Go SDK and the docs PATCH the sub-routes; POST is accepted too, as for jobs and heartbeats.
        web.patch("/v1/monitors/{id}/pause", pause_monitor),
        web.post("/v1/monitors/{id}/pause", pause_monitor),
        web.patch("/v1/monitors/{id}/resume", resume_monitor),
        web.post("/v1/monitors/{id}/resume", resume_monitor),
        web.get("/v1/monitors/{id}/checks", list_checks, name="v1-monitor-checks", allow_head=False),
    ]
