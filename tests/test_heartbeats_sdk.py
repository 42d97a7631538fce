"""The published `tickstem.HeartbeatClient` (Python) drives the heartbeats API of a real server, unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from tickstem import APIError, HeartbeatClient, HeartbeatCreateParams

from tests.conftest import API_KEY, in_thread
from tickstem_tui.runtime import Runtime

RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture
def client(runtime: Runtime) -> Iterator[HeartbeatClient]:
    with HeartbeatClient(API_KEY, base_url=f"{runtime.base_url}/v1") as hb:
        yield hb


@pytest.fixture
def raw(runtime: Runtime) -> Iterator[httpx.Client]:
    """Plain HTTP for what no SDK sends (bad input, GET/HEAD pings, foreign headers)."""
    with httpx.Client(base_url=f"{runtime.base_url}/v1", headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        yield http


async def test_create_ping_pause_resume_pings_delete(client: HeartbeatClient) -> None:
    hb = await in_thread(
        client.create, HeartbeatCreateParams(name="daily backup", interval_secs=86400, grace_secs=3600)
    )
    assert hb.id.startswith("hb_") and re.fullmatch(r"[0-9a-f]{64}", hb.token)
    assert (hb.name, hb.interval_secs, hb.grace_secs, hb.status, hb.consecutive_misses) == (
        "daily backup",
        86400,
        3600,
        "active",
        0,
    )
    assert hb.last_pinged_at is None and RFC3339_Z.fullmatch(hb.next_expected_at or "")
    assert RFC3339_Z.fullmatch(hb.created_at) and RFC3339_Z.fullmatch(hb.updated_at)

    assert await in_thread(client.ping, hb.token) == "ok"
    pinged = await in_thread(client.get, hb.id)
    assert pinged.last_pinged_at is not None and pinged.status == "active"

    paused = await in_thread(client.pause, hb.id)
    assert paused.status == "paused" and paused.next_expected_at is None
    assert await in_thread(client.ping, hb.token) == "paused"
    resumed = await in_thread(client.resume, hb.id)
    assert resumed.status == "active" and resumed.next_expected_at is not None

    pings = await in_thread(client.pings, hb.id, limit=50)
    assert len(pings) == 2 and {p.heartbeat_id for p in pings} == {hb.id}
    assert pings[0].pinged_at >= pings[1].pinged_at and pings[0].id.startswith("hbp_")

    assert [h.id for h in await in_thread(client.list)] == [hb.id]
    await in_thread(client.delete, hb.id)
    with pytest.raises(APIError) as err:
        await in_thread(client.get, hb.id)
    assert err.value.status == 404 and err.value.message == "heartbeat not found"
    with pytest.raises(APIError) as err:
        await in_thread(client.ping, hb.token)
    assert err.value.status == 404


async def test_explicit_zero_grace_and_defaults(client: HeartbeatClient, raw: httpx.Client) -> None:
    # The Python SDK always sends grace_secs (its default is 0): 0 must stay 0.
    zero = await in_thread(client.create, HeartbeatCreateParams(name="zero", interval_secs=60))
    assert zero.grace_secs == 0
    response = await in_thread(raw.post, "/heartbeats", json={"name": "defaults"})
    assert response.status_code == 201
    assert (response.json()["interval_secs"], response.json()["grace_secs"]) == (3600, 300)
    weekly = await in_thread(raw.post, "/heartbeats", json={"name": "weekly", "interval_secs": 604800})
    assert weekly.status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"interval_secs": 60}, "name is required"),
        ({"name": "x", "interval_secs": 59}, "interval_secs must be between 60 and 604800"),
        ({"name": "x", "interval_secs": 604801}, "interval_secs must be between 60 and 604800"),
        ({"name": "x", "grace_secs": -1}, "grace_secs must be between 0 and 86400"),
        ({"name": "x", "grace_secs": 86401}, "grace_secs must be between 0 and 86400"),
        ({"name": "x", "interval_secs": "60"}, "interval_secs must be an integer"),
        ({"name": "x", "interval_secs": 90.5}, "interval_secs must be an integer"),
        ({"name": ""}, "name must not be empty"),
        ({"name": "x" * 256}, "name must be at most 255 characters"),
    ],
)
async def test_bad_create_input_is_400_and_creates_nothing(
    raw: httpx.Client, body: dict[str, object], message: str
) -> None:
    response = await in_thread(raw.post, "/heartbeats", json=body)
    assert response.status_code == 400 and response.json() == {"error": message}
    assert (await in_thread(raw.get, "/heartbeats")).json() == {"heartbeats": []}


async def test_malformed_json_and_non_object_bodies(raw: httpx.Client) -> None:
    bad = await in_thread(raw.post, "/heartbeats", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("malformed JSON body")
    array = await in_thread(raw.post, "/heartbeats", json=[1])
    assert array.status_code == 400 and array.json() == {"error": "request body must be a JSON object"}


async def test_patch_partial_and_status(client: HeartbeatClient, raw: httpx.Client) -> None:
    hb = await in_thread(client.create, HeartbeatCreateParams(name="a", interval_secs=600, grace_secs=30))
    renamed = (await in_thread(raw.patch, f"/heartbeats/{hb.id}", json={"name": "b"})).json()
    assert (renamed["name"], renamed["interval_secs"], renamed["grace_secs"]) == ("b", 600, 30)
    assert renamed["next_expected_at"] == hb.next_expected_at  # timing untouched
    longer = (await in_thread(raw.patch, f"/heartbeats/{hb.id}", json={"interval_secs": 1200})).json()
    assert longer["next_expected_at"] > hb.next_expected_at and longer["grace_secs"] == 30

    for value in ("failing", "ACTIVE", 1):
        response = await in_thread(raw.patch, f"/heartbeats/{hb.id}", json={"status": value})
        assert response.status_code == 400 and response.json() == {"error": 'status must be "active" or "paused"'}
    response = await in_thread(raw.patch, f"/heartbeats/{hb.id}", json={"interval_secs": 10})
    assert response.status_code == 400
    assert (await in_thread(client.get, hb.id)).interval_secs == 1200  # nothing changed

    # MCP's and the npm SDK's POST sub-routes, with an empty JSON-typed body.
    headers = {"Content-Type": "application/json"}
    paused = await in_thread(raw.post, f"/heartbeats/{hb.id}/pause", headers=headers)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    resumed = await in_thread(raw.post, f"/heartbeats/{hb.id}/resume", headers=headers)
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    empty = await in_thread(raw.patch, f"/heartbeats/{hb.id}", headers=headers)
    assert empty.status_code == 200 and empty.json()["name"] == "b"


async def test_ping_needs_no_key_ignores_any_and_always_answers_json(client: HeartbeatClient, runtime: Runtime) -> None:
    hb = await in_thread(client.create, HeartbeatCreateParams(name="p", interval_secs=60))
    url = f"{runtime.base_url}/v1/heartbeats/{hb.token}/ping"
    async with httpx.AsyncClient() as http:
        for method, headers in [
            ("POST", {}),
            ("POST", {"Authorization": "Bearer not-a-key"}),
            ("GET", {}),
            ("POST", {"Authorization": "Basic Zm9vOmJhcg=="}),
        ]:
            response = await http.request(method, url, headers=headers)
            assert response.status_code == 200 and response.json() == {"status": "ok"}
            assert response.headers["Content-Type"].startswith("application/json")
        head = await http.head(url)
        assert head.status_code == 200 and head.headers["Content-Type"].startswith("application/json")
        unknown = await http.post(f"{runtime.base_url}/v1/heartbeats/{'0' * 64}/ping")
        assert unknown.status_code == 404 and unknown.json() == {"error": "heartbeat not found"}
        malformed = await http.post(f"{runtime.base_url}/v1/heartbeats/not-a-token/ping")
        assert malformed.status_code == 404 and malformed.json() == {"error": "heartbeat not found"}
        # The management routes still need the key.
        assert (await http.get(f"{runtime.base_url}/v1/heartbeats")).status_code == 401
    pings = await in_thread(client.pings, hb.id)
    assert len(pings) == 5  # POST x3 + GET + HEAD


async def test_pings_paging_is_clamped_and_newest_first(client: HeartbeatClient, raw: httpx.Client) -> None:
    hb = await in_thread(client.create, HeartbeatCreateParams(name="many", interval_secs=60))
    for n in range(105):
        assert (await in_thread(raw.post, f"/heartbeats/{hb.token}/ping", headers={"User-Agent": f"n{n}"})).is_success
    page = (await in_thread(raw.get, f"/heartbeats/{hb.id}/pings", params={"limit": 500})).json()
    assert page["limit"] == 100 and len(page["pings"]) == 100
    assert page["pings"][0]["user_agent"] == "n104" and page["pings"][-1]["user_agent"] == "n5"
    low = (await in_thread(raw.get, f"/heartbeats/{hb.id}/pings", params={"limit": 0, "offset": 103})).json()
    assert [p["user_agent"] for p in low["pings"]] == ["n1"]
    default = (await in_thread(raw.get, f"/heartbeats/{hb.id}/pings", params={"limit": "x"})).json()
    assert len(default["pings"]) == 50
    missing = await in_thread(raw.get, "/heartbeats/hb_0000000000000000/pings")
    assert missing.status_code == 404 and missing.json() == {"error": "heartbeat not found"}


async def test_quota_is_402(tmp_path: object, runtime: Runtime) -> None:
    # A separate runtime with a heartbeat limit shares nothing with the default one.
    from pathlib import Path

    from tests.conftest import make_settings

    assert isinstance(tmp_path, Path)
    settings = make_settings(tmp_path / "quota", max_heartbeats=1)
    async with Runtime(settings) as limited:
        with HeartbeatClient(API_KEY, base_url=f"{limited.base_url}/v1") as hb:
            await in_thread(hb.create, HeartbeatCreateParams(name="one", interval_secs=60))
            with pytest.raises(APIError) as err:
                await in_thread(hb.create, HeartbeatCreateParams(name="two", interval_secs=60))
            assert err.value.status == 402 and "limit" in err.value.message
            assert len(await in_thread(hb.list)) == 1
