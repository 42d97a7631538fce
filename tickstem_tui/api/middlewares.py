"""Middlewares: every error becomes `{"error": ...}` JSON; duplicate slashes are collapsed without a redirect."""

from __future__ import annotations

import logging
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from tickstem_tui.api.http import error_response

log = logging.getLogger(__name__)

_SLASHES = re.compile(r"/{2,}")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 404:
            message = "not found"
        elif exc.status == 405:
            message = f"method {request.method} not allowed here"
        elif exc.status == 413:
            message = "request body too large"
        return error_response(exc.status, message or "error", headers=_allow(exc))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error")


def _allow(exc: web.HTTPException) -> dict[str, str] | None:
    """Headers worth keeping from the exception: Allow, and the rate-limit ones another middleware added."""
    kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After") or k.startswith("X-RateLimit-")}
    return kept or None


@web.middleware
async def collapse_slashes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Serve `/v1//jobs` as `/v1/jobs`: SDKs given a base URL ending in `/` double the slash."""
    path = request.rel_url.raw_path
    if "//" not in path:
        return await handler(request)
    fixed = request.clone(
        rel_url=request.rel_url.with_path(_SLASHES.sub("/", path), encoded=True).with_query(request.rel_url.query)
    )
    match_info = await request.app.router.resolve(fixed)
    match_info.add_app(request.app)
    # aiohttp offers no public way to route a rewritten request; this mirrors Application._handle.
    fixed._match_info = match_info
    match_info.freeze()
    return await match_info.handler(fixed)
