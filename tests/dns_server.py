"""A real DNS server on loopback (dnslib; UDP and TCP on one free port) serving test zones and counting queries."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from dnslib import AAAA, MX, QTYPE, RCODE, RR, SOA, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer


@dataclass
class Zone:
    """What one name answers. Names not in the table are NXDOMAIN; a type with no records is NODATA."""

    mx: list[tuple[int, str]] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    txt: list[str] = field(default_factory=list)
    ttl: int = 300
    negative_ttl: int = 60
    """SOA minimum: how long NODATA answers may be cached."""
    rcode: int | None = None
    """Answer every query with this error instead (RCODE.SERVFAIL, RCODE.REFUSED)."""
    delay: float = 0.0
    """Seconds to wait before answering (a slow zone)."""
    delay_types: frozenset[str] | None = None
    """Only these query types are slow (None: all of them)."""


SLOW_DELAY = 3.0
"""Longer than any timeout the tests configure (the default bound is 2 s)."""

STANDARD_ZONES: dict[str, Zone] = {
    "goodmail.com": Zone(mx=[(10, "mx1.goodmail.com"), (20, "mx2.goodmail.com")]),
    "aonly.net": Zone(a=["192.0.2.10"]),
    "v6only.net": Zone(aaaa=["2001:db8::25"]),
    "nullmx.org": Zone(mx=[(0, ".")], a=["192.0.2.11"]),
    "nomail.org": Zone(txt=["v=spf1 -all"]),
    "servfail.net": Zone(rcode=RCODE.SERVFAIL),
    "refused.net": Zone(rcode=RCODE.REFUSED),
    "slow.net": Zone(mx=[(10, "mx.slow.net")], delay=SLOW_DELAY),
    "mailinator.com": Zone(mx=[(10, "mail.mailinator.com")]),
    "inbox.mailinator.com": Zone(mx=[(10, "mail.mailinator.com")]),
    "tempbox.dev": Zone(mx=[(10, "mx.tempbox.dev")]),
    "ttlzero.net": Zone(mx=[(10, "mx.ttlzero.net")], ttl=0),
    # 例子.广告 and exämple.com, as resolvers see them (punycode).
    "xn--fsqu00a.xn--4rr70v": Zone(mx=[(10, "mx.xn--fsqu00a.xn--4rr70v")]),
    "xn--exmple-cua.com": Zone(a=["192.0.2.12"]),
}


def _soa(owner: str, zone: Zone | None) -> RR:
    minimum = zone.negative_ttl if zone else 60
    return RR(
        owner, QTYPE.SOA, ttl=minimum, rdata=SOA("ns1." + owner, "hostmaster." + owner, (1, 3600, 600, 86400, minimum))
    )


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zones: dict[str, Zone], stopping: threading.Event) -> None:
        self.zones = zones
        self._stopping = stopping
        self._lock = threading.Lock()
        self.queries: list[tuple[str, str]] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self._lock:
            self.queries.append((qname, qtype))
        reply = request.reply()
        reply.header.aa = 1
        zone = self.zones.get(qname)
        if zone is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(_soa(".".join(qname.split(".")[-2:]), None))
            return reply
        if zone.delay and (zone.delay_types is None or qtype in zone.delay_types):
            self._stopping.wait(zone.delay)  # wakes at once when the server stops
        if zone.rcode is not None:
            reply.header.rcode = zone.rcode
            return reply
        name = DNSLabel(qname)
        records: list[RR] = []
        if qtype == "MX":
            records = [RR(name, QTYPE.MX, ttl=zone.ttl, rdata=MX(host, pref)) for pref, host in zone.mx]
        elif qtype == "A":
            records = [RR(name, QTYPE.A, ttl=zone.ttl, rdata=A(ip)) for ip in zone.a]
        elif qtype == "AAAA":
            records = [RR(name, QTYPE.AAAA, ttl=zone.ttl, rdata=AAAA(ip)) for ip in zone.aaaa]
        elif qtype == "TXT":
            records = [RR(name, QTYPE.TXT, ttl=zone.ttl, rdata=TXT(text)) for text in zone.txt]
        for record in records:
            reply.add_answer(record)
        if not records:
            reply.add_auth(_soa(qname, zone))
        return reply


class _QuietHandler(DNSHandler):  # type: ignore[misc]
    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client gave up (timeout) or the server is stopping
            super().handle()


class _QuietLogger(DNSLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False, logf=lambda _: None)


class LoopbackDNS:
    """`with LoopbackDNS() as dns:` serves STANDARD_ZONES (edit `dns.zones` freely) on `dns.address`."""

    def __init__(self, zones: dict[str, Zone] | None = None) -> None:
        self.zones = dict(STANDARD_ZONES if zones is None else zones)
        self._stopping = threading.Event()
        self.resolver = ZoneResolver(self.zones, self._stopping)
        self._servers: list[DNSServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, the form the `dns_server` setting takes."""
        return f"127.0.0.1:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str]]:
        return list(self.resolver.queries)

    def count(self, name: str | None = None) -> int:
        return sum(1 for qname, _ in self.queries if name is None or qname == name)

    def by_name(self) -> Counter[str]:
        return Counter(qname for qname, _ in self.queries)

    def reset(self) -> None:
        self.resolver.queries.clear()

    def start(self) -> LoopbackDNS:
        for _ in range(50):
            udp = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=_QuietLogger(), handler=_QuietHandler)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    self.resolver,
                    address="127.0.0.1",
                    port=port,
                    tcp=True,
                    logger=_QuietLogger(),
                    handler=_QuietHandler,
                )
            except OSError:  # that port is taken for TCP: try another
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            break
        else:
            raise RuntimeError("no port free for both UDP and TCP")
        for server in self._servers:
            thread = threading.Thread(
                target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-dns", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> LoopbackDNS:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback UDP port nobody listens on (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
