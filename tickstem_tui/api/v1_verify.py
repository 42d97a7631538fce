"""Tickstem email verification API (`/v1/verify`, `/v1/verify/history`)."""

from __future__ import annotations

from aiohttp import web

from tickstem_tui.api.http import api_key_required, json_response, query_int, read_json_object, services, status_map
from tickstem_tui.domain.verification import parse_email_input, verification_to_dict

VERIFY_ERRORS = status_map(validation=400, quota=402)
HISTORY_DEFAULT_LIMIT = 20
"""What the Go, Python and MCP clients ask for; Node sends no query at all."""


@api_key_required(VERIFY_ERRORS)
async def verify(request: web.Request, account_id: str) -> web.StreamResponse:
    body = await read_json_object(request)
    email = parse_email_input(body.get("email"))
    # A malformed address is still a 200: the verdict (valid=false and a reason) is the answer.
    result = await services(request).verifier.verify(account_id, email)
    return json_response(verification_to_dict(result))


@api_key_required(VERIFY_ERRORS)
async def history(request: web.Request, account_id: str) -> web.StreamResponse:
    limit = query_int(request, "limit", default=HISTORY_DEFAULT_LIMIT, low=1, high=100)
    offset = query_int(request, "offset", default=0, low=0, high=10**9)
    items = [verification_to_dict(v) for v in await services(request).verifier.history(account_id, limit, offset)]
    # Both envelope keys: Go and Node read `verifications`, Python reads `results`.
    return json_response({"verifications": items, "results": items, "limit": limit, "offset": offset})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/v1/verify", verify, name="v1-verify"),
        web.get("/v1/verify/history", history, name="v1-verify-history", allow_head=False),
    ]
