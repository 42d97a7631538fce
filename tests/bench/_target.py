"""A local HTTP target in its own process: answers every request with 200 and remembers when each job's call arrived.

`GET /__stats` returns {"count": N, "arrivals": {job_id: epoch seconds}} for calls carrying X-Tickstem-Job-ID;
`POST /__reset` forgets them. Run as `python tests/bench/_target.py PORT`; prints "ready" once listening.
"""

from __future__ import annotations

import sys
import time

from aiohttp import web

arrivals: dict[str, float] = {}
count = 0


async def hit(request: web.Request) -> web.StreamResponse:
    global count
    count += 1
    job = request.headers.get("X-Tickstem-Job-ID")
    if job is not None:
        arrivals[job] = time.time()
    return web.Response(text="ok")


async def stats(request: web.Request) -> web.StreamResponse:
    return web.json_response({"count": count, "arrivals": arrivals})


async def reset(request: web.Request) -> web.StreamResponse:
    global count
    arrivals.clear()
    count = 0
    return web.json_response({"ok": True})


def main() -> None:
    app = web.Application()
    app.router.add_get("/__stats", stats)
    app.router.add_post("/__reset", reset)
    app.router.add_route("*", "/{tail:.*}", hit)
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        backlog=4096,
        print=lambda *_: print("ready", flush=True),
    )


if __name__ == "__main__":
    main()
