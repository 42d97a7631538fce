"""The CronSafe face over real HTTP: the published `cronsafe` SDK, the docs' curl examples, isolation, limits."""

from __future__ import annotations

import asyncio
import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cronsafe import CronSafe
from requests import HTTPError

from tests.conftest import RecordingEndpoint, in_thread, make_settings
from tickstem_tui.clock import SystemClock
from tickstem_tui.runtime import Runtime


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=runtime.base_url) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, path: str, token: str | None = None, **kw: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, path, headers=headers, allow_redirects=False, **kw) as response:
        text = await response.text()
        return response.status, (json.loads(text) if text else None)


async def account(http: aiohttp.ClientSession, email: str = "you@example.com") -> str:
    status, body = await call(
        http, "POST", "/api/auth/register", json={"email": email, "password": "your-secure-password"}
    )
    assert status == 201, body
    return str(body["token"])


async def monitor(http: aiohttp.ClientSession, token: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "Nightly backup", "expected_interval_minutes": 1440, **fields}
    status, created = await call(http, "POST", "/api/monitors", token, json=body)
    assert status == 201, created
    return created  # type: ignore[no-any-return]


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30)


async def test_the_docs_curl_examples_run_as_written(runtime: Runtime) -> None:
    base = runtime.base_url
    register = await in_thread(
        curl,
        "-X",
        "POST",
        f"{base}/api/auth/register",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{\n    "email": "you@example.com",\n    "password": "your-secure-password"\n  }',
    )
    registered = json.loads(register.stdout)
    assert registered["user"]["email"] == "you@example.com" and registered["user"]["plan"] == "free"
    login = await in_thread(
        curl,
        "-X",
        "POST",
        f"{base}/api/auth/login",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"email": "you@example.com", "password": "your-secure-password"}',
    )
    token = json.loads(login.stdout)["token"]
    auth = f"Authorization: Bearer {token}"
    create = await in_thread(
        curl,
        "-X",
        "POST",
        f"{base}/api/monitors",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        """{
    "name": "Nightly database backup",
    "expected_interval_minutes": 1440,
    "grace_period_minutes": 10,
    "alert_channels": [
      { "type": "email", "address": "ops@example.com" },
      { "type": "slack", "webhook_url": "https://hooks.slack.com/services/T00/B00/xxx" }
    ]
  }""",
    )
    created = json.loads(create.stdout)
    assert (created["status"], created["last_ping_at"], created["grace_period_minutes"]) == ("pending", None, 10)
    assert len(created["slug"]) == 12 and created["slug"].isalnum() and len(created["alert_channels"]) == 2
    slug, monitor_id = created["slug"], created["id"]

    assert (await in_thread(curl, "-fsS", f"{base}/ping/{slug}")).stdout == '{"ok":true}'
    retried = await in_thread(
        subprocess.run,
        f"true && curl -fsS --retry 3 {base}/ping/{slug}",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(retried.stdout) == {"ok": True}

    listing = json.loads((await in_thread(curl, f"{base}/api/monitors", "-H", auth)).stdout)
    assert [m["status"] for m in listing] == ["up"]
    update = await in_thread(
        curl,
        "-X",
        "PUT",
        f"{base}/api/monitors/{monitor_id}",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"name": "Updated name", "grace_period_minutes": 15}',
    )
    updated = json.loads(update.stdout)
    assert (updated["name"], updated["grace_period_minutes"], updated["expected_interval_minutes"]) == (
        "Updated name",
        15,
        1440,
    )
    pings = json.loads((await in_thread(curl, f"{base}/api/monitors/{monitor_id}/pings?limit=20", "-H", auth)).stdout)
    assert len(pings) == 2 and pings[0]["monitor_id"] == monitor_id and pings[0]["ip_address"] == "127.0.0.1"
    assert pings[0]["received_at"].endswith("Z")
    delete = await in_thread(
        curl, "-X", "DELETE", f"{base}/api/monitors/{monitor_id}", "-H", auth, "-w", "%{http_code}"
    )
    assert delete.stdout == "204"
    missing = await in_thread(curl, "-fsS", f"{base}/ping/{slug}")
    assert missing.returncode == 22  # curl -f: HTTP error


async def test_the_published_sdk_start_ping_fail_wrap_and_monitor(
    runtime: Runtime, http: aiohttp.ClientSession
) -> None:
    token = await account(http)
    created = await monitor(http, token, slug="nightly-backup")
    # api_key is sent as a Bearer header on pings: it must be ignored there.
    sdk = CronSafe(api_key="cs_live_not_a_jwt", base_url=runtime.base_url + "/")

    assert await in_thread(sdk.start, "nightly-backup") == {"ok": True}
    await asyncio.sleep(0.02)
    assert await in_thread(sdk.ping, "nightly-backup") == {"ok": True}
    _, after_run = await call(http, "GET", f"/api/monitors/{created['id']}", token)
    assert after_run["status"] == "up" and after_run["last_duration_ms"] >= 20

    output = "€" * 2000  # ~18 KB once URL-encoded: the request line must fit
    assert await in_thread(sdk.fail, "nightly-backup", output + "tail beyond the SDK's cut") == {"ok": True}
    _, failed = await call(http, "GET", f"/api/monitors/{created['id']}", token)
    assert failed["status"] == "down" and failed["last_failure_output"] == output

    assert await in_thread(sdk.wrap, "nightly-backup", lambda a, b: a + b, 2, b=3) == 5
    assert (await call(http, "GET", f"/api/monitors/{created['id']}", token))[1]["status"] == "up"

    def failing_job() -> None:
        with sdk.monitor("nightly-backup"):
            raise KeyError("disk full")

    with pytest.raises(KeyError, match="disk full"):  # the caller's own exception, not an HTTP error
        await in_thread(failing_job)
    _, down = await call(http, "GET", f"/api/monitors/{created['id']}", token)
    assert down["status"] == "down" and down["last_failure_output"] == "'disk full'"

    def good_job() -> str:
        with sdk.monitor("nightly-backup"):
            return "done"

    assert await in_thread(good_job) == "done"
    _, pings = await call(http, "GET", f"/api/monitors/{created['id']}/pings?limit=200", token)
    assert [p["kind"] for p in pings] == [
        "success",
        "start",
        "fail",
        "start",
        "success",
        "start",
        "fail",
        "success",
        "start",
    ]

    with pytest.raises(HTTPError):
        await in_thread(sdk.ping, "no-such-monitor")


async def test_a_fail_ping_alerts_at_once_on_the_monitors_channels(
    runtime: Runtime, http: aiohttp.ClientSession, endpoint: RecordingEndpoint
) -> None:
    token = await account(http)
    created = await monitor(http, token, alert_channels=[{"type": "webhook", "url": f"{endpoint.url}/alerts"}])
    await call(http, "GET", f"/ping/{created['slug']}")
    await call(http, "GET", f"/ping/{created['slug']}?status=FAIL&output=exit+code+3")
    [alert] = await endpoint.wait_for_calls(1)
    payload = json.loads(alert.body)
    assert (payload["monitor_id"], payload["status"]) == (created["id"], "down")
    assert (
        payload["message"].startswith('[CronSafe] Monitor "Nightly backup" is DOWN.')
        and "exit code 3" in payload["message"]
    )
    await call(http, "POST", f"/ping/{created['slug']}")
    await endpoint.wait_for_calls(2)
    assert json.loads(endpoint.calls[1].body)["status"] == "up"


async def test_one_account_never_reaches_anothers_monitors(runtime: Runtime, http: aiohttp.ClientSession) -> None:
    alice, bob = await account(http, "alice@example.com"), await account(http, "bob@example.com")
    mine = await monitor(http, alice)
    await call(http, "GET", f"/ping/{mine['slug']}")
    assert (await call(http, "GET", "/api/monitors", bob))[1] == []
    before = await call(http, "GET", f"/api/monitors/{mine['id']}", alice)
    for method, path, body in [
        ("GET", "", None),
        ("PUT", "", {"name": "mine now"}),
        ("DELETE", "", None),
        ("GET", "/pings", None),
    ]:
        status, error = await call(http, method, f"/api/monitors/{mine['id']}{path}", bob, json=body)
        assert (status, error) == (403, {"error": "You do not have access to this monitor"}), (method, path)
    assert await call(http, "GET", f"/api/monitors/{mine['id']}", alice) == before
    status, error = await call(http, "GET", "/api/monitors/00000000-0000-4000-8000-000000000000", bob)
    assert (status, error) == (404, {"error": "Monitor not found"})
    # Tickstem API keys and CronSafe tokens are separate worlds too.
    assert (await call(http, "GET", "/v1/heartbeats", alice))[0] == 401


async def test_every_ping_form_is_accepted_and_recorded(runtime: Runtime, http: aiohttp.ClientSession) -> None:
    token = await account(http)
    created = await monitor(http, token)
    forms = [
        (method, f"{prefix}/{created['slug']}{suffix}")
        for prefix in ("/ping", "/api/ping")
        for suffix in ("", "/start")
        for method in ("GET", "HEAD", "POST")
    ]
    for method, path in forms:
        async with http.request(method, path) as response:
            assert response.status == 200, (method, path)
            assert response.headers["Cache-Control"] == "no-store"
    status, pings = await call(http, "GET", f"/api/monitors/{created['id']}/pings?limit=50", token)
    assert status == 200 and len(pings) == len(forms) == 12
    assert sorted(p["kind"] for p in pings) == ["start"] * 6 + ["success"] * 6
    async with http.put(f"/ping/{created['slug']}") as response:
        assert response.status == 405


async def test_badges_follow_the_status_without_auth_or_caching(runtime: Runtime, http: aiohttp.ClientSession) -> None:
    token = await account(http)
    created = await monitor(http, token)

    async def badge(slug: str) -> tuple[str, str]:
        async with http.get(f"/api/badge/{slug}") as response:
            assert response.status == 200 and response.content_type == "image/svg+xml"
            assert response.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
            root = ET.fromstring(await response.text())
            texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
            fills = [r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect")]
            return str(texts[2]), str(fills[2])

    assert await badge(created["slug"]) == ("unknown", "#9f9f9f")
    await call(http, "GET", f"/ping/{created['slug']}")
    assert await badge(created["slug"]) == ("passing", "#4c1")
    await call(http, "GET", f"/ping/{created['slug']}?status=fail")
    assert await badge(created["slug"]) == ("failing", "#e05d44")
    assert await badge("doesNotExist") == ("unknown", "#9f9f9f")


async def test_rate_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit_auth=3, rate_limit_api=4, rate_limit_ping=5)
    async with Runtime(settings, clock=SystemClock()) as rt, aiohttp.ClientSession(base_url=rt.base_url) as http:
        statuses = []
        for n in range(4):
            async with http.post("/api/auth/login", json={"email": f"x{n}@example.com", "password": "12345678"}) as r:
                statuses.append(r.status)
                assert r.headers["X-RateLimit-Limit"] == "3"
                assert int(r.headers["X-RateLimit-Remaining"]) == max(0, 2 - n)
                assert int(r.headers["X-RateLimit-Reset"]) > 0
                last = (r.status, dict(r.headers), await r.json())
        assert statuses == [401, 401, 401, 429]
        _, headers, body = last
        assert 1 <= int(headers["Retry-After"]) <= 60 and "Too many requests" in body["error"]

        for _ in range(4):
            async with http.get("/api/monitors") as r:
                assert r.status == 401
        async with http.get("/api/badge/x") as r:  # badges count against the API limit
            assert r.status == 429 and "Retry-After" in r.headers
        pings = []
        for _ in range(6):
            async with http.get("/ping/nope") as r:
                pings.append(r.status)
        assert pings == [404] * 5 + [429]
        async with http.get("/v1/jobs") as r:  # the Tickstem API is not rate limited
            assert r.status == 401 and "X-RateLimit-Limit" not in r.headers


async def test_the_monitor_limit_is_403_with_the_documented_message(tmp_path: Path) -> None:
    async with (
        Runtime(make_settings(tmp_path, cronsafe_max_monitors=2), clock=SystemClock()) as rt,
        aiohttp.ClientSession(base_url=rt.base_url) as http,
    ):
        token = await account(http)
        await monitor(http, token)
        await monitor(http, token)
        status, body = await call(
            http, "POST", "/api/monitors", token, json={"name": "third", "expected_interval_minutes": 5}
        )
        assert (status, body) == (403, {"error": "Monitor limit reached. Upgrade your plan."})


BAD_MONITORS = [
    ({}, "name is required"),
    ({"name": "x"}, "expected_interval_minutes is required"),
    ({"name": "", "expected_interval_minutes": 5}, "name must not be empty"),
    ({"name": "x" * 256, "expected_interval_minutes": 5}, "at most 255"),
    ({"name": "x", "expected_interval_minutes": 0}, "expected_interval_minutes must be between"),
    ({"name": "x", "expected_interval_minutes": "5"}, "must be an integer"),
    ({"name": "x", "expected_interval_minutes": 5, "grace_period_minutes": -1}, "grace_period_minutes must be between"),
    ({"name": "x", "expected_interval_minutes": 5, "alert_channels": {}}, "alert_channels must be an array"),
    ({"name": "x", "expected_interval_minutes": 5, "alert_channels": [{"type": "sms"}]}, "type must be one of"),
    (
        {"name": "x", "expected_interval_minutes": 5, "alert_channels": [{"type": "email", "address": "nope"}]},
        "email address",
    ),
    (
        {"name": "x", "expected_interval_minutes": 5, "alert_channels": [{"type": "slack", "webhook_url": "ftp://x"}]},
        "http",
    ),
    (
        {
            "name": "x",
            "expected_interval_minutes": 5,
            "alert_channels": [{"type": "telegram", "bot_token": "x", "chat_id": "1"}],
        },
        "bot_token",
    ),
    ({"name": "x", "expected_interval_minutes": 5, "slug": "has space"}, "slug may use"),
]


@pytest.mark.parametrize(("body", "message"), BAD_MONITORS)
async def test_bad_monitor_input_is_400_and_changes_nothing(
    runtime: Runtime, http: aiohttp.ClientSession, body: dict[str, Any], message: str
) -> None:
    token = await account(http)
    status, error = await call(http, "POST", "/api/monitors", token, json=body)
    assert status == 400 and message in error["error"], error
    assert await runtime.db.fetch_value("SELECT count(*) FROM heartbeats") == 0


async def test_auth_errors(runtime: Runtime, http: aiohttp.ClientSession) -> None:
    token = await account(http)
    assert (await call(http, "POST", "/api/auth/register", json={"email": "you@example.com", "password": "12345678"}))[
        0
    ] == 409
    assert (await call(http, "POST", "/api/auth/register", data=b"{nope"))[0] == 400
    assert (await call(http, "POST", "/api/auth/login", json={"email": "you@example.com"}))[0] == 400
    assert (await call(http, "GET", "/api/monitors"))[1] == {"error": "Missing authorization token"}
    assert (await call(http, "GET", "/api/monitors", token + "x"))[0] == 401
    assert (await call(http, "GET", "/api/monitors", "tsk_live_not_a_jwt"))[0] == 401
    taken = await monitor(http, token, slug="nightly-backup")
    status, _ = await call(
        http,
        "POST",
        "/api/monitors",
        token,
        json={"name": "y", "expected_interval_minutes": 1, "slug": "nightly-backup"},
    )
    assert status == 409 and taken["slug"] == "nightly-backup"
    status, body = await call(http, "GET", "/ping/nothing-here")
    assert (status, body) == (404, {"error": "Monitor not found"})
    async with http.head(f"/ping/{taken['slug']}") as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
