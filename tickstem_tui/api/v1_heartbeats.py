"""Tickstem heartbeats API (`/v1/heartbeats`), every client variant of the contract, and the token ping."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from tickstem_tui.api.http import (
    api_key_required,
    error_response,
    json_response,
    query_int,
    read_json_object,
    services,
)
from tickstem_tui.domain.errors import NotFound
from tickstem_tui.domain.heartbeats import Face, Heartbeat, PingRecord, tickstem_status
from tickstem_tui.domain.times import rfc3339
from tickstem_tui.services.heartbeats import HEARTBEAT_NOT_FOUND

TICKSTEM = Face.TICKSTEM
_TOKEN = re.compile(r"[0-9a-f]{64}")
NO_STORE = {"Cache-Control": "no-store"}


def heartbeat_to_dict(heartbeat: Heartbeat) -> dict[str, Any]:
    return {
        "id": heartbeat.id,
        "name": heartbeat.name,
        "token": heartbeat.token,
        "interval_secs": heartbeat.spec.interval_secs,
        "grace_secs": heartbeat.spec.grace_secs,
        "status": tickstem_status(heartbeat.state),
        "consecutive_misses": heartbeat.consecutive_misses,
        "last_pinged_at": rfc3339(heartbeat.last_ping_at),
        "next_expected_at": rfc3339(heartbeat.next_expected_at),
        "created_at": rfc3339(heartbeat.created_at),
        "updated_at": rfc3339(heartbeat.updated_at),
    }


def ping_to_dict(ping: PingRecord) -> dict[str, Any]:
    return {
        "id": ping.id,
        "heartbeat_id": ping.heartbeat_id,
        "pinged_at": rfc3339(ping.received_at),
        "kind": ping.kind.value,
        "source_ip": ping.ip,
        "user_agent": ping.user_agent,
        "while_paused": ping.paused,
    }


@api_key_required()
async def create_heartbeat(request: web.Request, account_id: str) -> web.StreamResponse:
    heartbeat = await services(request).heartbeats.create(account_id, await read_json_object(request))
    return json_response(heartbeat_to_dict(heartbeat), status=201)


@api_key_required()
async def list_heartbeats(request: web.Request, account_id: str) -> web.StreamResponse:
    heartbeats = await services(request).heartbeats.list_heartbeats(account_id, TICKSTEM)
    return json_response({"heartbeats": [heartbeat_to_dict(h) for h in heartbeats]})


@api_key_required()
async def get_heartbeat(request: web.Request, account_id: str) -> web.StreamResponse:
    heartbeat = await services(request).heartbeats.get(account_id, request.match_info["id"], TICKSTEM)
    return json_response(heartbeat_to_dict(heartbeat))


@api_key_required()
async def update_heartbeat(request: web.Request, account_id: str) -> web.StreamResponse:
    body = await read_json_object(request)
    heartbeat = await services(request).heartbeats.update(account_id, request.match_info["id"], body, TICKSTEM)
    return json_response(heartbeat_to_dict(heartbeat))


@api_key_required()
async def pause_heartbeat(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()  # a bodiless POST may still carry `Content-Type: application/json`
    heartbeat = await services(request).heartbeats.pause(account_id, request.match_info["id"], TICKSTEM)
    return json_response(heartbeat_to_dict(heartbeat))


@api_key_required()
async def resume_heartbeat(request: web.Request, account_id: str) -> web.StreamResponse:
    await request.read()
    heartbeat = await services(request).heartbeats.resume(account_id, request.match_info["id"], TICKSTEM)
    return json_response(heartbeat_to_dict(heartbeat))


@api_key_required()
async def delete_heartbeat(request: web.Request, account_id: str) -> web.StreamResponse:
    heartbeat_id = request.match_info["id"]
    await services(request).heartbeats.delete(account_id, heartbeat_id, TICKSTEM)
    # A JSON body, not 204: the npm-published @tickstem/core 0.2.0 parses every body as JSON.
    return json_response({"deleted": True, "id": heartbeat_id})


@api_key_required()
async def list_pings(request: web.Request, account_id: str) -> web.StreamResponse:
    limit = query_int(request, "limit", default=50, low=1, high=100)
    offset = query_int(request, "offset", default=0, low=0, high=10**9)
    pings = await services(request).heartbeats.pings(account_id, request.match_info["id"], limit, offset, TICKSTEM)
    return json_response({"pings": [ping_to_dict(p) for p in pings], "limit": limit, "offset": offset})


async def ping(request: web.Request) -> web.StreamResponse:
    """The job's ping: the token is the credential, so no API key is asked for (any Authorization is ignored).

    The answer goes out only after the ping and the heartbeat's new state are committed.
    """
    token = request.match_info["token"]
    if not _TOKEN.fullmatch(token):
        return error_response(404, HEARTBEAT_NOT_FOUND, headers=NO_STORE)
    try:
        result = await services(request).heartbeats.ping(
            token, ip=request.remote, user_agent=request.headers.get("User-Agent")
        )
    except NotFound:
        return error_response(404, HEARTBEAT_NOT_FOUND, headers=NO_STORE)
    return json_response({"status": result.status}, headers=NO_STORE)


def routes() -> list[web.RouteDef]:
    return [
        # The ping first: aiohttp tries the resources under /v1/heartbeats in the order they were added, and
        # the ping is the request that comes most often (none of the others can match its path).
        # Unauthenticated by design (not behind api_key_required); GET and HEAD for curl and wget users.
        web.post("/v1/heartbeats/{token}/ping", ping),
        web.get("/v1/heartbeats/{token}/ping", ping, allow_head=True),
        web.post("/v1/heartbeats", create_heartbeat),
        web.get("/v1/heartbeats", list_heartbeats, allow_head=False),
        web.get("/v1/heartbeats/{id}", get_heartbeat, allow_head=False),
        web.patch("/v1/heartbeats/{id}", update_heartbeat),
        web.delete("/v1/heartbeats/{id}", delete_heartbeat),
        # POST is what the npm-published SDK and MCP send; PATCH mirrors the monitors' sub-routes.
        web.post("/v1/heartbeats/{id}/pause", pause_heartbeat),
        web.patch("/v1/heartbeats/{id}/pause", pause_heartbeat),
        web.post("/v1/heartbeats/{id}/resume", resume_heartbeat),
        web.patch("/v1/heartbeats/{id}/resume", resume_heartbeat),
        web.get("/v1/heartbeats/{id}/pings", list_pings, allow_head=False),
    ]
