"""The uptime API on a real server: the published Python SDK, the Go/Node/MCP request variants, bad input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from tickstem import APIError, Assertion, UptimeClient, UptimeCreateParams, UptimeUpdateParams, is_quota_exceeded

from tests.conftest import API_KEY, eventually, in_thread
from tests.monitors_support import Target, serve_target
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.monitors import CheckStatus, MonitorCheck
from tickstem_tui.runtime import Runtime
from tickstem_tui.store.monitors import insert_check

OWNER = "acct_owner"


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    async with serve_target() as served:
        yield served


@pytest.fixture
def uptime(runtime: Runtime) -> Iterator[UptimeClient]:
    with UptimeClient(API_KEY, base_url=f"{runtime.base_url}/v1") as client:
        yield client


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[aiohttp.ClientSession]:
    """Raw HTTP as the Go, Node and MCP clients send it."""
    headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}
    async with aiohttp.ClientSession(base_url=runtime.base_url, headers=headers) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    if body is not None:
        kwargs["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
    async with http.request(method, path, **kwargs) as response:
        assert response.content_type == "application/json", (method, path, response.status)
        return response.status, await response.json()


async def test_python_sdk_round_trip(runtime: Runtime, uptime: UptimeClient, target: Target) -> None:
    created = await in_thread(
        uptime.create,
        UptimeCreateParams(
            name="Production API",
            url=target.url("/health"),
            assertions=[
                Assertion(source="status_code", comparison="eq", target="200"),
                Assertion(source="response_time", comparison="lt", target="2000"),
            ],
        ),
    )
    assert created.id.startswith("mon_") and created.status == "active"
    assert (created.interval_secs, created.timeout_secs, created.ssl_expires_at) == (60, 10, None)
    assert [(a.source, a.comparison, a.target) for a in created.assertions] == [
        ("status_code", "eq", "200"),
        ("response_time", "lt", "2000"),
    ]
    assert created.created_at.endswith("Z") and created.next_check_at is not None

    async def checked() -> bool:
        return bool(await in_thread(uptime.checks, created.id))

    await eventually(checked)
    [check] = await in_thread(uptime.checks, created.id)
    assert (check.monitor_id, check.status, check.status_code, check.error) == (created.id, "up", 200, "")
    assert isinstance(check.duration_ms, int) and check.checked_at.endswith("Z") and check.id.startswith("chk_")

    assert [m.id for m in await in_thread(uptime.list)] == [created.id]
    fetched = await in_thread(uptime.get, created.id)
    assert fetched.name == "Production API" and fetched.assertions == created.assertions

    changed = await in_thread(uptime.update, created.id, UptimeUpdateParams(interval_secs=120, timeout_secs=20))
    assert (changed.interval_secs, changed.timeout_secs, changed.status) == (120, 20, "active")
    paused = await in_thread(uptime.update, created.id, UptimeUpdateParams(status="paused"))
    assert (paused.status, paused.next_check_at) == ("paused", None)
    resumed = await in_thread(uptime.update, created.id, UptimeUpdateParams(status="active"))
    assert resumed.status == "active" and resumed.next_check_at is not None
    cleared = await in_thread(uptime.update, created.id, UptimeUpdateParams(assertions=[]))
    assert cleared.assertions == [] and cleared.interval_secs == 120

    await in_thread(uptime.delete, created.id)
    with pytest.raises(APIError) as err:
        await in_thread(uptime.get, created.id)
    assert (err.value.status, err.value.message) == (404, "monitor not found")
    assert await in_thread(uptime.list) == []
    assert await runtime.db.fetch_value("SELECT COUNT(*) FROM monitor_checks") == 0


async def test_sdk_sees_quota_and_validation_errors(uptime: UptimeClient, target: Target) -> None:
    with pytest.raises(APIError) as err:
        await in_thread(uptime.create, UptimeCreateParams(name="fast", url=target.url(), interval_secs=10))
    assert is_quota_exceeded(err.value)
    assert err.value.message == "interval_secs 10 is below the minimum of 30 seconds"
    with pytest.raises(APIError) as err:
        await in_thread(uptime.create, UptimeCreateParams(name="slow", url=target.url(), timeout_secs=60))
    assert (err.value.status, err.value.message) == (400, "timeout_secs must be between 5 and 30")
    assert await in_thread(uptime.list) == []


async def test_monitor_json_has_every_field(runtime: Runtime, http: aiohttp.ClientSession, target: Target) -> None:
    status, body = await call(http, "POST", "/v1/monitors", {"name": "m", "url": target.url("/")})
    assert status == 201
    assert set(body) == {
        "id",
        "name",
        "url",
        "interval_secs",
        "timeout_secs",
        "status",
        "ssl_expires_at",
        "assertions",
        "next_check_at",
        "created_at",
        "updated_at",
        "last_checked_at",
        "last_check_status",
        "consecutive_failures",
        "uptime_24h",
        "uptime_7d",
        "uptime_30d",
        "avg_response_ms_24h",
    }
    assert body["assertions"] == [] and body["ssl_expires_at"] is None and body["consecutive_failures"] == 0

    async def checked() -> bool:
        return (await call(http, "GET", f"/v1/monitors/{body['id']}"))[1]["last_checked_at"] is not None

    await eventually(checked)
    _, after = await call(http, "GET", f"/v1/monitors/{body['id']}")
    assert (after["last_check_status"], after["uptime_24h"], after["uptime_7d"], after["uptime_30d"]) == (
        "up",
        100.0,
        100.0,
        100.0,
    )
    assert isinstance(after["avg_response_ms_24h"], int)
    _, listed = await call(http, "GET", "/v1/monitors")
    assert listed["monitors"][0]["uptime_24h"] == 100.0


@pytest.mark.parametrize(
    ("method", "action", "headers", "data"),
    [
        ("PATCH", "pause", {}, None),  # Go SDK, docs, third-party client: no body, no content type
        ("POST", "pause", {"Content-Type": "application/json"}, b""),  # Node-style empty JSON-typed body
        ("PATCH", "pause", {"Content-Type": "application/json"}, b"{}"),
    ],
)
async def test_pause_and_resume_sub_routes(
    http: aiohttp.ClientSession, target: Target, method: str, action: str, headers: dict[str, str], data: Any
) -> None:
    _, created = await call(http, "POST", "/v1/monitors", {"name": "m", "url": target.url("/")})
    status, paused = await call(http, method, f"/v1/monitors/{created['id']}/pause", headers=headers, data=data)
    assert (status, paused["status"], paused["next_check_at"]) == (200, "paused", None)
    status, resumed = await call(http, method, f"/v1/monitors/{created['id']}/resume", headers=headers, data=data)
    assert (status, resumed["status"], resumed["consecutive_failures"]) == (200, "active", 0)
    assert resumed["next_check_at"] is not None


async def test_status_in_patch_body_and_failing_refused(http: aiohttp.ClientSession, target: Target) -> None:
    _, created = await call(http, "POST", "/v1/monitors", {"name": "m", "url": target.url("/")})
    path = f"/v1/monitors/{created['id']}"
    assert (await call(http, "PATCH", path, {"status": "paused"}))[1]["status"] == "paused"
    status, body = await call(http, "PATCH", path, {"status": "failing"})
    assert (status, body) == (400, {"error": 'status must be "active" or "paused"'})
    assert (await call(http, "GET", path))[1]["status"] == "paused"
    assert (await call(http, "PATCH", path, {"status": "active"}))[1]["status"] == "active"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{not json", 400, "malformed JSON body"),
        ("[]", 400, "request body must be a JSON object"),
        ({"url": "http://127.0.0.1:9/"}, 400, "name is required"),
        ({"name": "m"}, 400, "url is required"),
        ({"name": "m", "url": "file:///etc/passwd"}, 400, "url must be an http:// or https:// URL"),
        ({"name": "m", "url": "http://127.0.0.1:9/", "interval_secs": 29}, 402, "below the minimum of 30"),
        ({"name": "m", "url": "http://127.0.0.1:9/", "interval_secs": 86401}, 400, "between 1 and 86400"),
        ({"name": "m", "url": "http://127.0.0.1:9/", "interval_secs": -5}, 400, "between 1 and 86400"),
        ({"name": "m", "url": "http://127.0.0.1:9/", "timeout_secs": 4}, 400, "between 5 and 30"),
        ({"name": "m", "url": "http://127.0.0.1:9/", "timeout_secs": "10"}, 400, "must be an integer"),
        (
            {"name": "m", "url": "http://127.0.0.1:9/", "assertions": [{"source": "body", "comparison": "gt"}]},
            400,
            "comparison 'gt' cannot be used with source 'body'",
        ),
        (
            {
                "name": "m",
                "url": "http://127.0.0.1:9/",
                "assertions": [{"source": "status_code", "comparison": "eq", "target": "ok"}],
            },
            400,
            "assertions[0].target must be a non-negative integer string",
        ),
    ],
)
async def test_bad_create_is_refused_and_creates_nothing(
    runtime: Runtime, http: aiohttp.ClientSession, body: Any, status: int, error: str
) -> None:
    got, answer = await call(http, "POST", "/v1/monitors", body)
    assert got == status and error in answer["error"], answer
    assert (await call(http, "GET", "/v1/monitors"))[1] == {"monitors": []}
    assert await runtime.db.fetch_value("SELECT COUNT(*) FROM monitors") == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"interval_secs": 10}, 402),
        ({"interval_secs": 90000}, 400),
        ({"timeout_secs": 31}, 400),
        ({"name": ""}, 400),
        ({"url": "nope"}, 400),
        ({"assertions": "status_code eq 200"}, 400),
        ({"status": "failing", "name": "renamed"}, 400),
        ({"name": "renamed", "assertions": [{"source": "body", "comparison": "lt", "target": "1"}]}, 400),
    ],
)
async def test_bad_patch_is_refused_and_changes_nothing(
    http: aiohttp.ClientSession, target: Target, body: dict[str, Any], status: int
) -> None:
    _, created = await call(
        http,
        "POST",
        "/v1/monitors",
        {
            "name": "m",
            "url": target.url("/"),
            "assertions": [{"source": "status_code", "comparison": "eq", "target": "200"}],
        },
    )
    path = f"/v1/monitors/{created['id']}"
    _, before = await call(http, "GET", path)
    got, answer = await call(http, "PATCH", path, body)
    assert got == status and isinstance(answer["error"], str)
    _, after = await call(http, "GET", path)
    keys = ("name", "url", "interval_secs", "timeout_secs", "assertions", "status", "updated_at")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}


async def test_checks_paging_is_clamped_and_newest_first(
    runtime: Runtime, http: aiohttp.ClientSession, target: Target
) -> None:
    monitor = await runtime.services.monitors.create(OWNER, {"name": "m", "url": target.url("/")})
    await runtime.services.monitors.pause(OWNER, monitor.id)
    await runtime.poller.wait_idle()
    await runtime.db.execute("DELETE FROM monitor_checks")
    start = runtime.clock.now() - timedelta(hours=3)
    checks = [
        MonitorCheck(new_id("chk"), monitor.id, CheckStatus.UP, 200, i, "", None, start + timedelta(minutes=i))
        for i in range(120)
    ]

    async def store(conn: Any) -> None:
        for check in checks:
            await insert_check(conn, check)

    await runtime.db.write(store)
    path = f"/v1/monitors/{monitor.id}/checks"
    cases = {
        "": (50, 0, 119),
        "?limit=50&offset=0": (50, 0, 119),
        "?limit=0": (1, 0, 119),
        "?limit=-3": (1, 0, 119),
        "?limit=1000": (100, 0, 119),
        "?limit=abc&offset=xyz": (50, 0, 119),
        "?limit=100&offset=110": (10, 110, 9),
        "?offset=-4": (50, 0, 119),
        "?limit=5&offset=500": (0, 500, None),
    }
    for query, (count, offset, newest) in cases.items():
        status, body = await call(http, "GET", path + query)
        assert status == 200 and len(body["checks"]) == count, query
        assert body["offset"] == offset and body["limit"] >= count
        if newest is not None:
            assert body["checks"][0]["duration_ms"] == newest, query
    _, body = await call(http, "GET", path + "?limit=100")
    stamps = [c["checked_at"] for c in body["checks"]]
    assert stamps == sorted(stamps, reverse=True)


async def test_another_accounts_monitor_is_not_found(
    runtime: Runtime, http: aiohttp.ClientSession, target: Target
) -> None:
    _, mine = await call(http, "POST", "/v1/monitors", {"name": "mine", "url": target.url("/")})
    await runtime.db.execute(
        "INSERT INTO accounts (id, kind, email, created_at) VALUES ('acct_other', 'cronsafe', 'o@example.com', 0)"
    )
    key, _ = await runtime.services.accounts.create_key("other", "acct_other")
    other = {"Authorization": f"Bearer {key}"}
    path = f"/v1/monitors/{mine['id']}"
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"name": "stolen"}),
        ("DELETE", "", None),
        ("GET", "/checks", None),
        ("PATCH", "/pause", None),
        ("POST", "/resume", None),
    ]:
        status, answer = await call(http, method, path + suffix, body, headers=dict(other))
        assert (status, answer) == (404, {"error": "monitor not found"}), (method, suffix)
    assert (await call(http, "GET", "/v1/monitors", headers=dict(other)))[1] == {"monitors": []}
    _, still = await call(http, "GET", path)
    assert (still["name"], still["status"]) == ("mine", "active")


async def test_delete_answers_json_and_auth_and_methods_are_json(
    runtime: Runtime, http: aiohttp.ClientSession, target: Target
) -> None:
    _, created = await call(http, "POST", "/v1/monitors", {"name": "m", "url": target.url("/")})
    path = f"/v1/monitors/{created['id']}"
    assert await call(http, "DELETE", path) == (200, {"deleted": True, "id": created["id"]})
    assert await call(http, "DELETE", path) == (404, {"error": "monitor not found"})
    status, _ = await call(http, "GET", "/v1/monitors", headers={"Authorization": ""})
    assert status == 401
    status, answer = await call(http, "PUT", path, {"name": "x"})
    assert status == 405 and "error" in answer
    # A base URL ending in "/" (Go, Node) doubles the slash; it is served, not redirected.
    assert (await call(http, "GET", "/v1//monitors"))[0] == 200


async def test_node_style_requests_and_url_change(
    runtime: Runtime, http: aiohttp.ClientSession, target: Target
) -> None:
    # @tickstem/core sends a JSON content type on every request, bodiless GET and DELETE included.
    node = {"Content-Type": "application/json", "User-Agent": "tickstem-node/0.1.0"}
    status, created = await call(http, "POST", "/v1/monitors", {"name": "a", "url": target.url("/a")}, headers=node)
    assert status == 201
    path = f"/v1/monitors/{created['id']}"
    assert (await call(http, "GET", path, headers=node, data=b""))[0] == 200
    status, moved = await call(http, "PATCH", path, {"name": "b", "url": target.url("/b")}, headers=node)
    assert (status, moved["name"], moved["url"]) == (200, "b", target.url("/b"))

    async def checked_new_url() -> bool:
        return target.hits.get("/b", 0) >= 1

    await eventually(checked_new_url)  # a new URL is checked at once, not an interval later
    assert (await call(http, "DELETE", path, headers=node, data=b""))[0] == 200
