"""The published `tickstem.VerifyClient` and raw HTTP against a real server whose DNS is a loopback test server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tickstem import APIError, VerifyClient, is_quota_exceeded

from tests.conftest import API_KEY, in_thread, make_settings
from tests.dns_server import LoopbackDNS
from tickstem_tui.clock import SystemClock
from tickstem_tui.config import Settings
from tickstem_tui.domain.verification import (
    REASON_DISPOSABLE,
    REASON_NO_DOMAIN,
    REASON_NO_MAIL_HOST,
    REASON_NULL_MX,
    REASON_ROLE_BASED,
)
from tickstem_tui.runtime import Runtime

DNS_TIMEOUT = 0.5
TIMED_OUT = f"DNS lookup timed out after {DNS_TIMEOUT:g} s; could not confirm the domain accepts mail"
SERVFAIL = "DNS lookup failed (SERVFAIL); could not confirm the domain accepts mail"


@pytest.fixture
def settings(tmp_path: Path, dns_server: LoopbackDNS) -> Settings:
    """The suite's settings with email DNS pointed at the loopback server (the `runtime` fixture uses these)."""
    return make_settings(
        tmp_path, dns_server=dns_server.address, dns_timeout_secs=DNS_TIMEOUT, disposable_additions=("tempbox.dev",)
    )


@pytest.fixture
def client(runtime: Runtime) -> Iterator[VerifyClient]:
    with VerifyClient(API_KEY, base_url=f"{runtime.base_url}/v1") as verify:
        yield verify


@pytest.fixture
async def http(runtime: Runtime) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with aiohttp.ClientSession(base_url=f"{runtime.base_url}/", headers=headers) as session:
        yield session


async def stored(runtime: Runtime) -> int:
    return await runtime.services.verifier.repo.count(runtime.services.accounts.owner_id)


async def test_verify_and_history_with_the_python_sdk(client: VerifyClient) -> None:
    result = await in_thread(client.verify, "jane@goodmail.com")
    assert result.id.startswith("ver_") and result.email == "jane@goodmail.com"
    assert (result.valid, result.mx_found, result.disposable, result.role_based, result.reason) == (
        True,
        True,
        False,
        False,
        "",
    )
    assert result.created_at.endswith("Z")
    bad = await in_thread(client.verify, "user@@goodmail.com")
    assert not bad.valid and bad.reason.startswith("invalid syntax:")

    history = await in_thread(client.history)
    assert [h.id for h in history] == [bad.id, result.id]  # newest first
    assert history[1] == result  # the full object, as Python parses every entry


# (address, valid, mx_found, disposable, role_based, reason)
REASON_TABLE: list[tuple[str, bool, bool, bool, bool, str]] = [
    ("jane@goodmail.com", True, True, False, False, ""),
    ("Jane.Doe+news@GoodMail.com", True, True, False, False, ""),
    ("admin@goodmail.com", True, True, False, True, REASON_ROLE_BASED),
    ("support+billing@goodmail.com", True, True, False, True, REASON_ROLE_BASED),
    ("no-reply@goodmail.com", True, True, False, True, REASON_ROLE_BASED),
    ("jane@aonly.net", True, True, False, False, ""),
    ("jane@v6only.net", True, True, False, False, ""),
    ("jane@nullmx.org", False, False, False, False, REASON_NULL_MX),
    ("jane@nomail.org", False, False, False, False, REASON_NO_MAIL_HOST),
    ("jane@no-such-domain.com", False, False, False, False, REASON_NO_DOMAIN),
    ("jane@servfail.net", False, False, False, False, SERVFAIL),
    ("jane@slow.net", False, False, False, False, TIMED_OUT),
    ("jane@mailinator.com", False, True, True, False, REASON_DISPOSABLE),
    ("info@inbox.mailinator.com", False, True, True, True, REASON_DISPOSABLE),
    ("jane@tempbox.dev", False, True, True, False, REASON_DISPOSABLE),  # a settings addition
    ("user@@goodmail.com", False, False, False, False, "invalid syntax: the part after the @-sign contains"),
    ("jane@goodmail", False, False, False, False, "invalid syntax: the part after the @-sign is not valid."),
    ("jane.goodmail.com", False, False, False, False, "invalid syntax: an email address must have an @-sign."),
    ("jane..doe@goodmail.com", False, False, False, False, "invalid syntax: an email address cannot have two"),
    ("jane@server.test", False, False, False, False, "invalid syntax: the part after the @-sign is a special-use"),
    ("Jane <jane@goodmail.com>", False, False, False, False, "invalid syntax: a display name and angle brackets"),
    ("a" * 65 + "@goodmail.com", False, False, False, False, "invalid syntax: the email address is too long before"),
]


async def test_every_reason(client: VerifyClient, dns_server: LoopbackDNS) -> None:
    for address, valid, mx_found, disposable, role_based, reason in REASON_TABLE:
        result = await in_thread(client.verify, address)
        got = (result.valid, result.mx_found, result.disposable, result.role_based)
        assert got == (valid, mx_found, disposable, role_based), address
        assert result.email == address
        if reason.startswith("invalid syntax:") or not reason:
            assert result.reason.startswith(reason) and (reason or result.reason == ""), (address, result.reason)
        else:
            assert result.reason == reason, address
    # Malformed addresses never reach DNS.
    assert {name for name, _ in dns_server.queries} <= {
        "goodmail.com",
        "aonly.net",
        "v6only.net",
        "nullmx.org",
        "nomail.org",
        "no-such-domain.com",
        "servfail.net",
        "slow.net",
        "mailinator.com",
        "inbox.mailinator.com",
        "tempbox.dev",
    }
    assert len(await in_thread(client.history, limit=100)) == len(REASON_TABLE)


async def test_a_dns_timeout_answers_well_inside_the_sdk_timeout(client: VerifyClient) -> None:
    started = time.monotonic()
    result = await in_thread(client.verify, "jane@slow.net")
    assert result.reason == TIMED_OUT and not result.mx_found
    assert time.monotonic() - started < DNS_TIMEOUT + 1.0


async def test_internationalised_addresses(client: VerifyClient, dns_server: LoopbackDNS) -> None:
    chinese = await in_thread(client.verify, "用户@例子.广告")
    assert chinese.email == "用户@例子.广告"
    assert chinese.valid and chinese.mx_found and chinese.reason == ""
    accented = await in_thread(client.verify, "José.Müller@exämple.com")
    assert accented.valid and accented.mx_found  # A record only: implicit MX
    unknown = await in_thread(client.verify, "ユーザー@例え.テスト")
    assert not unknown.valid and unknown.reason == REASON_NO_DOMAIN
    assert {"xn--fsqu00a.xn--4rr70v", "xn--exmple-cua.com", "xn--r8jz45g.xn--zckzah"} <= set(dns_server.by_name())
    history = await in_thread(client.history, limit=3)
    assert [h.email for h in history] == ["ユーザー@例え.テスト", "José.Müller@exämple.com", "用户@例子.广告"]


async def test_history_envelope_and_paging(runtime: Runtime, client: VerifyClient, http: aiohttp.ClientSession) -> None:
    addresses = [f"user{i}@goodmail.com" for i in range(25)]
    for address in addresses:
        await runtime.services.verifier.verify(runtime.services.accounts.owner_id, address)
    newest_first = list(reversed(addresses))

    async def page(query: str) -> dict[str, Any]:
        # Node sends a JSON content type even on GET; the server must not mind.
        async with http.get(f"v1/verify/history{query}", headers={"Content-Type": "application/json"}) as response:
            assert response.status == 200 and response.content_type == "application/json"
            body: dict[str, Any] = await response.json()
            return body

    body = await page("")  # Node: no query string at all
    assert body["verifications"] == body["results"]
    assert (body["limit"], body["offset"]) == (20, 0)
    assert [v["email"] for v in body["verifications"]] == newest_first[:20]
    assert set(body["results"][0]) == {
        "id",
        "user_id",
        "email",
        "valid",
        "mx_found",
        "disposable",
        "role_based",
        "reason",
        "created_at",
    }

    body = await page("?limit=10&offset=20")
    assert [v["email"] for v in body["results"]] == newest_first[20:]
    assert (body["limit"], body["offset"]) == (10, 20)
    body = await page("?limit=10&offset=500")
    assert body["verifications"] == [] and body["results"] == []  # arrays, never null

    for query, limit, offset in [
        ("?limit=0", 1, 0),
        ("?limit=1000", 100, 0),
        ("?limit=abc&offset=-5", 20, 0),
        ("?limit=-3&offset=2", 1, 2),
    ]:
        body = await page(query)
        assert (body["limit"], body["offset"]) == (limit, offset), query
        assert len(body["results"]) == min(limit, 25 - offset)

    sdk_page = await in_thread(client.history, limit=5, offset=5)
    assert [h.email for h in sdk_page] == newest_first[5:10]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/json", "email is required"),
        (b"{}", "application/json", "email is required"),
        (b'{"email": null}', "application/json", "email is required"),
        (b'{"email": "  "}', "application/json", "email is required"),
        (b'{"email": 42}', "application/json", "email must be a string"),
        (b'{"email": ["a@b.com"]}', "application/json", "email must be a string"),
        (b'{"email": true}', "application/json", "email must be a string"),
        (b"not json", "application/json", "malformed JSON body"),
        (b'["jane@goodmail.com"]', "application/json", "request body must be a JSON object"),
        (b'{"email": "' + b"a" * 2000 + b'@x.com"}', "application/json", "email must be at most 1024 characters"),
        (b"email=jane@goodmail.com", "application/x-www-form-urlencoded", "malformed JSON body"),
    ],
)
async def test_bad_input_is_400_json_and_stores_nothing(
    runtime: Runtime, http: aiohttp.ClientSession, dns_server: LoopbackDNS, body: bytes, content_type: str, message: str
) -> None:
    async with http.post("v1/verify", data=body, headers={"Content-Type": content_type}) as response:
        assert response.status == 400
        assert response.content_type == "application/json"
        assert (await response.json())["error"].startswith(message)
    assert await stored(runtime) == 0
    assert dns_server.queries == []


async def test_bad_input_through_the_sdk(runtime: Runtime, client: VerifyClient) -> None:
    with pytest.raises(APIError) as err:
        await in_thread(client.verify, None)  # type: ignore[arg-type]
    assert err.value.status == 400 and err.value.message == "email is required"
    assert await stored(runtime) == 0


async def test_api_key_is_required(runtime: Runtime) -> None:
    with VerifyClient("wrong", base_url=f"{runtime.base_url}/v1") as stranger, pytest.raises(APIError) as err:
        await in_thread(stranger.verify, "jane@goodmail.com")
    assert err.value.status == 401
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{runtime.base_url}/v1/verify/history") as response,
    ):
        assert response.status == 401 and "error" in await response.json()
    assert await stored(runtime) == 0


async def test_monthly_quota_is_402(tmp_path: Path, dns_server: LoopbackDNS) -> None:
    settings = make_settings(tmp_path, dns_server=dns_server.address, max_verifications_per_month=3)
    async with Runtime(settings, clock=SystemClock()) as runtime:
        with VerifyClient(API_KEY, base_url=f"{runtime.base_url}/v1") as client:
            for i in range(3):
                await in_thread(client.verify, f"user{i}@goodmail.com")
            queries = dns_server.count()
            with pytest.raises(APIError) as err:
                await in_thread(client.verify, "late@aonly.net")
            assert err.value.status == 402 and is_quota_exceeded(err.value)
            assert err.value.message.startswith("monthly verification quota reached (3 per month)")
            assert dns_server.count() == queries  # refused before any DNS work
            assert [h.email for h in await in_thread(client.history)] == [f"user{i}@goodmail.com" for i in (2, 1, 0)]
        # The owner's CLI path is unmetered and still stores its results.
        owner = runtime.services.accounts.owner_id
        await runtime.services.verifier.verify(owner, "cli@goodmail.com", metered=False)
        assert await runtime.services.verifier.usage(owner) == 3
        assert await stored(runtime) == 4


async def test_concurrent_requests_cannot_overrun_the_quota(tmp_path: Path, dns_server: LoopbackDNS) -> None:
    settings = make_settings(tmp_path, dns_server=dns_server.address, max_verifications_per_month=10)
    async with (
        Runtime(settings, clock=SystemClock()) as runtime,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_KEY}"}) as http,
    ):

        async def one(i: int) -> int:
            async with http.post(f"{runtime.base_url}/v1/verify", json={"email": f"u{i}@goodmail.com"}) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one(i) for i in range(40)))
        assert statuses.count(200) == 10 and statuses.count(402) == 30
        assert await stored(runtime) == 10


BATCH_DOMAINS = {
    "goodmail.com": True,
    "aonly.net": True,
    "v6only.net": True,
    "xn--fsqu00a.xn--4rr70v": True,
    "nullmx.org": False,
    "nomail.org": False,
    "no-such-domain.com": False,
    "servfail.net": False,
    "slow.net": False,
    "mailinator.com": False,
}


async def test_a_thousand_addresses_in_bounded_time(
    runtime: Runtime, http: aiohttp.ClientSession, dns_server: LoopbackDNS
) -> None:
    domains = list(BATCH_DOMAINS)
    addresses = [f"person{i}@{domains[i % len(domains)]}" for i in range(1000)]
    gate = asyncio.Semaphore(50)

    async def verify(address: str) -> dict[str, Any]:
        async with gate, http.post("v1/verify", json={"email": address}) as response:
            assert response.status == 200
            body: dict[str, Any] = await response.json()
            return body

    started = time.monotonic()
    results = await asyncio.gather(*(verify(a) for a in addresses))
    elapsed = time.monotonic() - started
    print(f"\n1,000 verifications over HTTP in {elapsed:.2f} s; {dns_server.count()} DNS queries")

    assert elapsed < 30
    for address, result in zip(addresses, results, strict=True):
        assert result["email"] == address
        assert result["valid"] is BATCH_DOMAINS[address.split("@")[1]], result
    # One lookup per domain (MX, plus A and AAAA where there is no MX): the cache did the rest.
    assert dns_server.count() <= 3 * len(domains) < 1000 // 10
    assert runtime.services.verifier.resolver.lookups == len(domains)
    assert await stored(runtime) == 1000
