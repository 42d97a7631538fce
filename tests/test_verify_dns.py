"""MailResolver against a real DNS server on loopback: MX, A/AAAA fallback, null MX, failures, time bound, cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from dnslib import RCODE

from tests.dns_server import SLOW_DELAY, LoopbackDNS, Zone, closed_port
from tickstem_tui.domain.verification import MailCheck, MailLookup, parse_dns_servers
from tickstem_tui.services.verifier import FAILURE_TTL, MailResolver

TIMEOUT = 0.5


class FakeTimer:
    """Monotonic seconds that only move when told to (for TTL expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def resolver(dns_server: LoopbackDNS) -> AsyncIterator[MailResolver]:
    mail = MailResolver(parse_dns_servers(dns_server.address), TIMEOUT)
    yield mail
    await mail.close()


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("goodmail.com", MailLookup(MailCheck.MX)),
        ("aonly.net", MailLookup(MailCheck.IMPLICIT_MX)),
        ("v6only.net", MailLookup(MailCheck.IMPLICIT_MX)),
        ("nullmx.org", MailLookup(MailCheck.NULL_MX)),
        ("nomail.org", MailLookup(MailCheck.NO_MAIL_HOST)),
        ("no-such-domain.com", MailLookup(MailCheck.NO_DOMAIN)),
        ("servfail.net", MailLookup(MailCheck.DNS_ERROR, "SERVFAIL")),
        ("refused.net", MailLookup(MailCheck.DNS_ERROR, "REFUSED")),
        ("xn--fsqu00a.xn--4rr70v", MailLookup(MailCheck.MX)),
    ],
)
async def test_each_kind_of_zone(resolver: MailResolver, domain: str, expected: MailLookup) -> None:
    assert await resolver.lookup(domain) == expected


async def test_null_mx_wins_over_an_address_record(resolver: MailResolver, dns_server: LoopbackDNS) -> None:
    # nullmx.org also has an A record: RFC 7505 says no mail all the same, and no A query is needed.
    assert (await resolver.lookup("nullmx.org")).check is MailCheck.NULL_MX
    assert dns_server.queries == [("nullmx.org", "MX")]


async def test_mx_found_needs_no_address_queries(resolver: MailResolver, dns_server: LoopbackDNS) -> None:
    await resolver.lookup("goodmail.com")
    assert dns_server.queries == [("goodmail.com", "MX")]


async def test_fallback_asks_for_a_and_aaaa(resolver: MailResolver, dns_server: LoopbackDNS) -> None:
    await resolver.lookup("nomail.org")
    assert sorted(dns_server.queries) == [("nomail.org", "A"), ("nomail.org", "AAAA"), ("nomail.org", "MX")]


async def test_slow_server_is_a_timeout_within_the_bound(resolver: MailResolver) -> None:
    started = time.monotonic()
    lookup = await resolver.lookup("slow.net")
    elapsed = time.monotonic() - started
    assert lookup == MailLookup(MailCheck.TIMEOUT, "0.5 s")
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 0.5 < SLOW_DELAY


async def test_slow_address_fallback_shares_the_same_bound(dns_server: LoopbackDNS) -> None:
    # MX answers at once (NODATA) but A/AAAA are slow: the whole lookup still ends at the one bound.
    dns_server.zones["slowaddr.net"] = Zone(a=["192.0.2.1"], delay=SLOW_DELAY, delay_types=frozenset({"A", "AAAA"}))
    resolver = MailResolver(parse_dns_servers(dns_server.address), TIMEOUT)
    try:
        started = time.monotonic()
        lookup = await resolver.lookup("slowaddr.net")
        assert lookup.check is MailCheck.TIMEOUT
        assert time.monotonic() - started < TIMEOUT + 0.5
    finally:
        await resolver.close()


async def test_default_bound_is_two_seconds(dns_server: LoopbackDNS) -> None:
    resolver = MailResolver(parse_dns_servers(dns_server.address), 2.0)
    try:
        started = time.monotonic()
        assert (await resolver.lookup("slow.net")).check is MailCheck.TIMEOUT
        assert 1.8 <= time.monotonic() - started < 2.6
    finally:
        await resolver.close()


async def test_lookups_never_block_the_loop(resolver: MailResolver) -> None:
    """While a lookup waits on a slow server, other coroutines keep running on time."""
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    try:
        await asyncio.gather(resolver.lookup("slow.net"), resolver.lookup("goodmail.com"))
    finally:
        task.cancel()
    assert len(gaps) > 10 and max(gaps) < 0.25  # a blocked loop would show one gap of about 0.5 s


async def test_unreachable_server_is_reported_not_as_no_mail() -> None:
    resolver = MailResolver([("127.0.0.1", closed_port())], TIMEOUT)
    try:
        lookup = await resolver.lookup("goodmail.com")
    finally:
        await resolver.close()
    assert lookup.check.inconclusive
    assert lookup in (MailLookup(MailCheck.DNS_ERROR, "DNS server unreachable"), MailLookup(MailCheck.TIMEOUT, "0.5 s"))


async def test_concurrent_lookups_of_one_domain_share_one_query(
    resolver: MailResolver, dns_server: LoopbackDNS
) -> None:
    results = await asyncio.gather(*(resolver.lookup("goodmail.com") for _ in range(200)))
    assert {r.check for r in results} == {MailCheck.MX}
    assert dns_server.count("goodmail.com") == 1
    assert resolver.lookups == 1 and resolver.joined == 199


async def test_concurrent_waiters_on_a_slow_domain_all_get_the_timeout(
    resolver: MailResolver, dns_server: LoopbackDNS
) -> None:
    results = await asyncio.gather(*(resolver.lookup("slow.net") for _ in range(50)))
    assert {r.check for r in results} == {MailCheck.TIMEOUT}
    assert resolver.lookups == 1


async def test_cache_honours_ttls(dns_server: LoopbackDNS) -> None:
    timer = FakeTimer()
    dns_server.zones["short.net"] = Zone(mx=[(10, "mx.short.net")], ttl=30)
    dns_server.zones["nodata.net"] = Zone(txt=["x"], negative_ttl=20)
    resolver = MailResolver(parse_dns_servers(dns_server.address), TIMEOUT, timer=timer)
    names = ["goodmail.com", "short.net", "nodata.net", "missing.net", "servfail.net", "ttlzero.net"]
    try:

        async def lookup_all() -> None:
            for name in names:
                await resolver.lookup(name)

        def counts() -> list[int]:
            by_name = dns_server.by_name()
            return [by_name[name] for name in names]

        await lookup_all()
        # MX, MX, MX+A+AAAA, MX (NXDOMAIN), MX (SERVFAIL), MX
        first = [1, 1, 3, 1, 1, 1]
        assert counts() == first
        await lookup_all()
        assert counts() == [1, 1, 3, 1, 1, 2]  # only the TTL-0 answer is asked again

        timer.now += FAILURE_TTL + 1  # the failure's short memory is over
        await lookup_all()
        assert counts() == [1, 1, 3, 1, 2, 3]

        timer.now += 20  # past NODATA's SOA minimum (20 s) and short.net's 30 s TTL, not NXDOMAIN's 60 s
        await lookup_all()
        assert counts() == [1, 2, 6, 1, 3, 4]

        timer.now += 30  # NXDOMAIN (SOA minimum 60 s) has now expired too; goodmail's 300 s has not
        await lookup_all()
        assert counts() == [1, 3, 9, 2, 4, 5]
    finally:
        await resolver.close()


async def test_cache_is_bounded(dns_server: LoopbackDNS) -> None:
    resolver = MailResolver(parse_dns_servers(dns_server.address), TIMEOUT, cache_size=2)
    try:
        for name in ("goodmail.com", "aonly.net", "tempbox.dev", "goodmail.com"):
            await resolver.lookup(name)
        # goodmail.com was evicted (least recently used) before its second lookup.
        assert dns_server.count("goodmail.com") == 2
        assert resolver.cache_hits == 0
    finally:
        await resolver.close()


async def test_tcp_is_served_too(dns_server: LoopbackDNS) -> None:
    """The helper answers on TCP as well (resolvers retry there when a UDP answer is truncated)."""
    import dns.asyncquery
    import dns.message

    query = dns.message.make_query("goodmail.com", "MX")
    response = await dns.asyncquery.tcp(query, "127.0.0.1", port=dns_server.port, timeout=2)
    assert response.rcode() == RCODE.NOERROR and len(response.answer[0]) == 2
