"""The jobs API over raw HTTP: the Go and Node variants, envelopes and types, and every bad input."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import API_KEY, RecordingEndpoint
from tickstem_tui.clock import SystemClock
from tickstem_tui.runtime import Runtime
from tickstem_tui.store.accounts import AccountRepository

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=runtime.base_url) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[int, Any]:
    async with http.request(
        method, path, headers=AUTH if headers is None else headers, allow_redirects=False, **kw
    ) as r:
        assert r.content_type == "application/json", (r.status, await r.text())
        return r.status, await r.json()


async def make_job(http: aiohttp.ClientSession, endpoint: RecordingEndpoint, name: str = "job") -> dict[str, Any]:
    status, job = await call(
        http, "POST", "/v1/jobs", json={"name": name, "schedule": "*/5 * * * *", "endpoint": endpoint.url}
    )
    assert status == 201
    return job  # type: ignore[no-any-return]


async def test_job_shape_has_every_field_with_the_right_types(
    http: aiohttp.ClientSession, endpoint: RecordingEndpoint
) -> None:
    job = await make_job(http, endpoint)
    assert set(job) >= {
        "id",
        "name",
        "description",
        "schedule",
        "endpoint",
        "method",
        "timeout_secs",
        "retries",
        "status",
        "next_run_at",
        "last_run_at",
        "created_at",
        "updated_at",
    }
    assert job["description"] == "" and job["method"] == "POST" and job["timeout_secs"] == 30
    assert all(RFC3339.match(job[k]) for k in ("next_run_at", "created_at", "updated_at"))
    assert job["last_run_at"] is None
    status, listing = await call(http, "GET", "/v1/jobs")
    assert status == 200 and listing["jobs"] == [job] and listing["offset"] == 0 and isinstance(listing["limit"], int)


async def test_go_sdk_pauses_with_patch_status(http: aiohttp.ClientSession, endpoint: RecordingEndpoint) -> None:
    job = await make_job(http, endpoint)
    status, paused = await call(http, "PATCH", f"/v1/jobs/{job['id']}", json={"status": "paused"})
    assert status == 200 and paused["status"] == "paused" and paused["next_run_at"] is None
    status, active = await call(http, "PATCH", f"/v1/jobs/{job['id']}", json={"status": "active"})
    assert status == 200 and active["status"] == "active" and active["next_run_at"] is not None


async def test_node_sdk_posts_bodyless_actions_with_a_json_type(
    http: aiohttp.ClientSession, endpoint: RecordingEndpoint
) -> None:
    job = await make_job(http, endpoint)
    node = {**AUTH, "Content-Type": "application/json", "User-Agent": "tickstem-node/0.1.0"}
    status, paused = await call(http, "POST", f"/v1/jobs/{job['id']}/pause", headers=node)
    assert (status, paused["status"]) == (200, "paused")
    status, active = await call(http, "POST", f"/v1/jobs/{job['id']}/resume", headers=node, data=b"  ")
    assert (status, active["status"]) == (200, "active")


async def test_put_merges_partial_bodies(http: aiohttp.ClientSession, endpoint: RecordingEndpoint) -> None:
    job = await make_job(http, endpoint)
    await call(http, "PUT", f"/v1/jobs/{job['id']}", json={"description": "kept", "timeout_secs": 12})
    status, updated = await call(http, "PUT", f"/v1/jobs/{job['id']}", json={"schedule": "0 3 * * *"})
    assert status == 200
    assert (updated["schedule"], updated["description"], updated["timeout_secs"], updated["endpoint"]) == (
        "0 3 * * *",
        "kept",
        12,
        endpoint.url,
    )


async def test_delete_answers_json_and_removes_history(
    http: aiohttp.ClientSession, runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    job = await make_job(http, endpoint)
    status, body = await call(http, "POST", f"/v1/jobs/{job['id']}/trigger")
    assert status == 202 and body["message"] == "triggered" and body["execution_id"].startswith("exec_")
    await runtime.executor.wait_idle()
    assert await runtime.db.fetch_value("SELECT count(*) FROM executions") == 1
    status, body = await call(http, "DELETE", f"/v1/jobs/{job['id']}")
    assert (status, body) == (200, {"deleted": True, "id": job["id"]})
    assert await runtime.db.fetch_value("SELECT count(*) FROM executions") == 0
    assert (await call(http, "DELETE", f"/v1/jobs/{job['id']}"))[0] == 404


async def test_executions_envelope_legacy_array_and_paging(
    http: aiohttp.ClientSession, runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    job = await make_job(http, endpoint)
    for _ in range(3):
        await call(http, "POST", f"/v1/jobs/{job['id']}/trigger")
        await runtime.executor.wait_idle()
    status, page = await call(http, "GET", f"/v1/executions?job_id={job['id']}&limit=2&offset=1")
    assert status == 200 and (page["limit"], page["offset"]) == (2, 1) and len(page["executions"]) == 2
    status, everything = await call(http, "GET", f"/v1/executions?job_id={job['id']}&limit=0")
    assert everything["limit"] == 1  # clamped, not rejected
    status, legacy = await call(http, "GET", f"/v1/jobs/{job['id']}/executions")
    assert status == 200 and isinstance(legacy, list) and len(legacy) == 3
    run = legacy[0]
    assert isinstance(run["duration_ms"], int) and isinstance(run["status_code"], int)
    assert (
        RFC3339.match(run["scheduled_at"]) and RFC3339.match(run["triggered_at"]) and RFC3339.match(run["finished_at"])
    )
    times = [e["triggered_at"] for e in legacy]
    assert times == sorted(times, reverse=True)


async def test_duplicate_slashes_are_served_without_redirect(
    http: aiohttp.ClientSession, endpoint: RecordingEndpoint
) -> None:
    job = await make_job(http, endpoint)
    status, got = await call(http, "GET", f"/v1//jobs//{job['id']}")
    assert status == 200 and got["id"] == job["id"]
    status, _ = await call(http, "GET", "/v1//executions?job_id=" + job["id"])
    assert status == 200


async def test_another_accounts_job_is_not_found(
    http: aiohttp.ClientSession, runtime: Runtime, endpoint: RecordingEndpoint
) -> None:
    job = await make_job(http, endpoint)
    await runtime.db.execute("INSERT INTO accounts (id, kind, created_at) VALUES ('acct_other', 'cronsafe', 0)")
    await AccountRepository(runtime.db).add_api_key("acct_other", "other", "other-key", SystemClock().now())
    other = {"Authorization": "Bearer other-key"}
    assert (await call(http, "GET", "/v1/jobs", headers=other))[1]["jobs"] == []
    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/pause"),
        ("POST", "/trigger"),
    ]:
        status, body = await call(http, method, f"/v1/jobs/{job['id']}{path}", headers=other, json={"status": "paused"})
        assert (status, body) == (404, {"error": "job not found"}), (method, path)
    assert (await call(http, "GET", f"/v1/executions?job_id={job['id']}", headers=other))[0] == 404
    status, same_name = await call(
        http, "POST", "/v1/jobs", headers=other, json={"name": "job", "schedule": "@daily", "endpoint": endpoint.url}
    )
    assert status == 201 and same_name["id"] != job["id"]


async def snapshot(runtime: Runtime) -> list[list[tuple[Any, ...]]]:
    tables = ["accounts", "api_keys", "jobs", "executions", "flips"]
    return [[tuple(r) for r in await runtime.db.fetch_all(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables]


VALID = {"name": "ok", "schedule": "@daily", "endpoint": "http://127.0.0.1:9/x"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/v1/jobs", b"{bad", 400, "malformed JSON body"),
        ("POST", "/v1/jobs", b"[1, 2]", 400, "must be a JSON object"),
        ("POST", "/v1/jobs", b"\xff\xfe", 400, "malformed JSON body"),
        ("POST", "/v1/jobs", {}, 422, "name is required"),
        ("POST", "/v1/jobs", {**VALID, "name": 7}, 422, "name must be a string"),
        ("POST", "/v1/jobs", {**VALID, "name": "  "}, 422, "name must not be empty"),
        ("POST", "/v1/jobs", {**VALID, "schedule": "*/5 * * *"}, 422, "invalid cron expression"),
        ("POST", "/v1/jobs", {**VALID, "schedule": 5}, 422, "invalid cron expression"),
        ("POST", "/v1/jobs", {**VALID, "endpoint": "ftp://example.test/x"}, 422, "endpoint must be an http"),
        ("POST", "/v1/jobs", {**VALID, "endpoint": "http://"}, 422, "endpoint must be an http"),
        ("POST", "/v1/jobs", {**VALID, "endpoint": "http://example.test:99999/x"}, 422, "endpoint has an invalid port"),
        ("POST", "/v1/jobs", {**VALID, "method": "FETCH"}, 422, "method must be one of"),
        ("POST", "/v1/jobs", {**VALID, "timeout_secs": "30"}, 422, "timeout_secs must be an integer"),
        ("POST", "/v1/jobs", {**VALID, "timeout_secs": 1.5}, 422, "timeout_secs must be an integer"),
        ("POST", "/v1/jobs", {**VALID, "timeout_secs": True}, 422, "timeout_secs must be an integer"),
        ("POST", "/v1/jobs", {**VALID, "timeout_secs": 0}, 422, "between 1 and 300"),
        ("POST", "/v1/jobs", {**VALID, "timeout_secs": 301}, 422, "between 1 and 300"),
        ("POST", "/v1/jobs", {**VALID, "headers": ["a"]}, 422, "headers must be an object"),
        ("POST", "/v1/jobs", {**VALID, "headers": {"X-A": 1}}, 422, "header names"),
        ("POST", "/v1/jobs", {**VALID, "headers": {"X-A": "a\r\nInjected: 1"}}, 422, "single-line"),
        ("POST", "/v1/jobs", {**VALID, "retries": -1}, 422, "retries must be between"),
        ("POST", "/v1/jobs", {**VALID, "description": "x" * 2001}, 422, "at most 2000"),
        ("POST", "/v1/jobs", {**VALID, "description": "x" * 300_000}, 413, "request body too large"),
        ("PATCH", "/v1/jobs/{id}", {"status": "failing"}, 422, 'status must be "active" or "paused"'),
        ("PATCH", "/v1/jobs/{id}", {"status": "PAUSED"}, 422, 'status must be "active" or "paused"'),
        ("PUT", "/v1/jobs/{id}", {"name": "taken"}, 409, "already exists"),
        ("PUT", "/v1/jobs/{id}", {"schedule": "* * *"}, 422, "invalid cron expression"),
        ("PUT", "/v1/jobs/job_0000000000000000", {"name": "x"}, 404, "job not found"),
        ("POST", "/v1/jobs/job_0000000000000000/pause", None, 404, "job not found"),
        ("POST", "/v1/jobs/job_0000000000000000/trigger", None, 404, "job not found"),
        ("GET", "/v1/executions", None, 400, "job_id query parameter is required"),
        ("GET", "/v1/executions?job_id=job_nope", None, 404, "job not found"),
        ("GET", "/v1/nothing-here", None, 404, "not found"),
        ("DELETE", "/v1/jobs", None, 405, "method DELETE not allowed here"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_changes_nothing(
    http: aiohttp.ClientSession, runtime: Runtime, method: str, path: str, body: Any, status: int, message: str
) -> None:
    _, job = await call(http, "POST", "/v1/jobs", json=VALID)
    await call(http, "POST", "/v1/jobs", json={**VALID, "name": "taken"})
    before = await snapshot(runtime)
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body} if body is not None else {}
    got_status, got = await call(http, method, path.replace("{id}", job["id"]), **kwargs)
    assert got_status == status and message in got["error"], got
    assert list(got) == ["error"]
    assert await snapshot(runtime) == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer nope"},
        {"Authorization": API_KEY},
    ],
)
async def test_requests_without_a_valid_key_are_401(http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    for method, path in [("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", "/v1/executions?job_id=x")]:
        status, body = await call(http, method, path, headers=headers, data=json.dumps(VALID))
        assert status == 401 and "API key" in body["error"]
