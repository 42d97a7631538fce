"""Email verification: syntax (email-validator), mail DNS (dnspython, bounded and cached), lists, history, quota."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite
import disposable_email_domains
import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.SOA import SOA
from email_validator import EmailNotValidError, validate_email

from tickstem_tui.clock import Clock
from tickstem_tui.config import Settings
from tickstem_tui.domain.errors import QuotaExceeded
from tickstem_tui.domain.events import VerificationRecorded
from tickstem_tui.domain.ids import new_id
from tickstem_tui.domain.verification import (
    Assessment,
    DisposableDomains,
    MailCheck,
    MailLookup,
    Verification,
    assess,
    assess_syntax_error,
    is_role_based,
    month_key,
    parse_dns_servers,
    quota_message,
)
from tickstem_tui.services.bus import EventBus
from tickstem_tui.store.database import Database
from tickstem_tui.store.verifications import VerificationRepository, add_usage, insert_verification, usage_in

log = logging.getLogger(__name__)

MAX_POSITIVE_TTL = 3600.0
"""Longest reuse of an answer whatever its TTL, so a domain that changes its MX is noticed within the hour."""
DEFAULT_NEGATIVE_TTL = 60.0
"""For an NXDOMAIN without an SOA to say how long it holds (RFC 2308)."""
MAX_NEGATIVE_TTL = 300.0
"""Longest reuse of "no such domain" / "no mail host": a newly set-up domain is not refused for long."""
FAILURE_TTL = 15.0
"""Timeouts and server failures are remembered briefly, so a batch does not wait on a dead domain per address."""
CACHE_SIZE = 10_000
MAX_LOOKUPS_IN_FLIGHT = 128
"""Distinct domains resolved at once (each holds a socket); a domain's time bound starts when it gets a slot."""
BATCH_CONCURRENCY = 64


@dataclass(slots=True)
class _Entry:
    lookup: MailLookup
    expires: float


def _cache_seconds(lookup: MailLookup, ttl: float) -> float:
    if lookup.check in (MailCheck.MX, MailCheck.IMPLICIT_MX, MailCheck.NULL_MX):
        return min(ttl, MAX_POSITIVE_TTL)
    if lookup.check.inconclusive:
        return FAILURE_TTL
    return min(ttl, MAX_NEGATIVE_TTL)


def _answer_ttl(answer: dns.resolver.Answer) -> float:
    # dnspython folds the CNAME chain's and, for NODATA, the SOA's TTLs into the expiration.
    return max(0.0, answer.expiration - time.time())


def _nxdomain_ttl(exc: dns.resolver.NXDOMAIN) -> float:
    responses: dict[Any, Any] = exc.kwargs.get("responses") or {}
    for response in responses.values():
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA and isinstance(rrset[0], SOA):
                return float(min(rrset.ttl, rrset[0].minimum))
    return DEFAULT_NEGATIVE_TTL


def _failure_detail(exc: dns.resolver.NoNameservers) -> str:
    errors: list[tuple[Any, ...]] = exc.kwargs.get("errors") or []
    for error in errors:
        if isinstance(error[3], str):  # the rcode the server answered with, e.g. SERVFAIL or REFUSED
            return error[3]
    if any(isinstance(error[3], OSError) for error in errors):
        return "DNS server unreachable"
    return "no DNS server answered"


class MailResolver:
    """Does a domain take mail? MX, then A/AAAA (RFC 5321 §5.1), within one time bound per domain.

    Answers are cached per domain for their TTL (negative ones briefly), and concurrent lookups of one
    domain share a single query, so a batch of addresses costs one lookup per distinct domain.
    """

    def __init__(
        self,
        servers: list[tuple[str, int]] | None,
        timeout: float,
        *,
        cache_size: int = CACHE_SIZE,
        max_in_flight: int = MAX_LOOKUPS_IN_FLIGHT,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._servers = servers
        self.timeout = timeout
        self._timer = timer
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[str, asyncio.Task[MailLookup]] = {}
        self._slots = asyncio.Semaphore(max_in_flight)
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._resolver_lock = asyncio.Lock()
        self._config_error = ""
        self.lookups = 0
        """Domains actually resolved (cache misses that were not joined to a lookup in flight)."""
        self.cache_hits = 0
        self.joined = 0

    async def lookup(self, domain: str) -> MailLookup:
        key = domain.lower().rstrip(".")
        entry = self._cache.get(key)
        if entry is not None:
            if entry.expires > self._timer():
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return entry.lookup
            del self._cache[key]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._lookup_and_cache(key), name=f"mx-lookup {key}")
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        else:
            self.joined += 1
        # Shielded: one caller giving up (a client disconnecting) must not cancel the others' lookup.
        return await asyncio.shield(task)

    def _forget(self, key: str, task: asyncio.Task[MailLookup]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lookup_and_cache(self, domain: str) -> MailLookup:
        async with self._slots:
            self.lookups += 1
            try:
                lookup, ttl = await self._resolve(domain)
            except Exception as exc:  # never let one odd answer fail a verification
                log.exception("MX lookup of %s failed", domain)
                lookup, ttl = MailLookup(MailCheck.DNS_ERROR, type(exc).__name__), FAILURE_TTL
        seconds = _cache_seconds(lookup, ttl)
        if seconds > 0:
            self._cache[domain] = _Entry(lookup, self._timer() + seconds)
            self._cache.move_to_end(domain)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return lookup

    async def _get_resolver(self) -> dns.asyncresolver.Resolver | None:
        if self._resolver is None and not self._config_error:
            async with self._resolver_lock:
                if self._resolver is None and not self._config_error:
                    if self._servers:
                        self._resolver = _make_resolver(self._servers, self.timeout)
                    else:
                        # The system configuration is a file read (/etc/resolv.conf): keep it off the loop.
                        try:
                            self._resolver = await asyncio.to_thread(_make_resolver, None, self.timeout)
                        except dns.resolver.NoResolverConfiguration:
                            self._config_error = "no DNS server configured"
        return self._resolver

    async def _resolve(self, domain: str) -> tuple[MailLookup, float]:
        resolver = await self._get_resolver()
        if resolver is None:
            return MailLookup(MailCheck.DNS_ERROR, self._config_error), FAILURE_TTL
        deadline = self._timer() + self.timeout
        try:
            name = dns.name.from_text(domain)
            answer = await self._query(resolver, name, dns.rdatatype.MX, deadline)
            if answer.rrset is not None:
                hosts = [r for r in answer.rrset if isinstance(r, MX) and r.exchange != dns.name.root]
                # RFC 7505: an MX of "." (and nothing else) says the domain takes no mail at all.
                return MailLookup(MailCheck.MX if hosts else MailCheck.NULL_MX), _answer_ttl(answer)
            return await self._address_fallback(resolver, name, deadline, _answer_ttl(answer))
        except dns.resolver.NXDOMAIN as exc:
            return MailLookup(MailCheck.NO_DOMAIN), _nxdomain_ttl(exc)
        except (TimeoutError, dns.exception.Timeout):
            return MailLookup(MailCheck.TIMEOUT, f"{self.timeout:g} s"), FAILURE_TTL
        except dns.resolver.NoNameservers as exc:
            return MailLookup(MailCheck.DNS_ERROR, _failure_detail(exc)), FAILURE_TTL
        except dns.exception.DNSException as exc:
            return MailLookup(MailCheck.DNS_ERROR, exc.__class__.__name__), FAILURE_TTL

    async def _address_fallback(
        self, resolver: dns.asyncresolver.Resolver, name: dns.name.Name, deadline: float, negative_ttl: float
    ) -> tuple[MailLookup, float]:
        """No MX: the domain itself is the mail host if it has an address; A and AAAA race, first hit wins."""
        tasks = [
            asyncio.create_task(self._query(resolver, name, rdtype, deadline))
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
        ]
        ttls = [negative_ttl]
        failure: BaseException | None = None
        try:
            for next_done in asyncio.as_completed(tasks):
                try:
                    answer = await next_done
                except (TimeoutError, dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
                    failure = failure or exc
                    continue
                if answer.rrset is not None:
                    return MailLookup(MailCheck.IMPLICIT_MX), _answer_ttl(answer)
                ttls.append(_answer_ttl(answer))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if failure is not None:
            raise failure  # one family unanswered: "no mail host" would be a guess
        return MailLookup(MailCheck.NO_MAIL_HOST), min(ttls)

    async def _query(
        self,
        resolver: dns.asyncresolver.Resolver,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        deadline: float,
    ) -> dns.resolver.Answer:
        remaining = deadline - self._timer()
        if remaining <= 0:
            raise TimeoutError
        # dnspython's lifetime is checked between attempts and can overrun; the asyncio bound cannot.
        async with asyncio.timeout(remaining):
            return await resolver.resolve(name, rdtype, lifetime=remaining, raise_on_no_answer=False, search=False)


def _make_resolver(servers: list[tuple[str, int]] | None, timeout: float) -> dns.asyncresolver.Resolver:
    if servers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port) for host, port in servers]
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.cache = None  # MailResolver caches whole verdicts, negative ones included
    # Two tries of half the bound each: a single lost UDP packet does not cost the verdict.
    resolver.timeout = max(timeout / 2, 0.05)
    resolver.lifetime = timeout
    return resolver


class Verifier:
    """Runs the four checks in order (syntax, MX, disposable, role-based), stores each result, meters usage."""

    def __init__(
        self,
        db: Database,
        repo: VerificationRepository,
        clock: Clock,
        settings: Settings,
        *,
        bus: EventBus | None = None,
        resolver: MailResolver | None = None,
        blocklist: Iterable[str] | None = None,
    ) -> None:
        self._db = db
        self._bus = bus or EventBus()
        self.repo = repo
        self._clock = clock
        servers = parse_dns_servers(settings.dns_server) if settings.dns_server else None
        self.resolver = resolver or MailResolver(servers, settings.dns_timeout_secs)
        self.disposable = DisposableDomains(
            disposable_email_domains.blocklist if blocklist is None else blocklist,
            settings.disposable_additions,
            settings.disposable_exclusions,
        )
        self.quota = settings.max_verifications_per_month

    async def check(self, email: str) -> Assessment:
        """The checks alone, nothing stored: syntax first; only a well-formed address reaches DNS."""
        try:
            parsed = validate_email(email, check_deliverability=False, strict=True)
        except EmailNotValidError as exc:
            return assess_syntax_error(str(exc))
        domain = parsed.ascii_domain
        mail = await self.resolver.lookup(domain)
        return assess(
            domain, mail, disposable=self.disposable.matches(domain), role_based=is_role_based(parsed.local_part)
        )

    async def verify(self, account_id: str, email: str, *, metered: bool = True) -> Verification:
        """Check one address and store the result in the account's history.

        Metered calls (the API) count towards `max_verifications_per_month` and raise QuotaExceeded once it is
        reached, storing nothing; the owner's own CLI runs unmetered.
        """
        month = month_key(self._clock.now())
        if metered and self.quota and await self.repo.usage(account_id, month) >= self.quota:
            # Checked before the DNS work too, so callers over quota get their 402 at once.
            raise QuotaExceeded(quota_message(self.quota, self._clock.now()))
        result = await self.check(email)
        item = Verification(
            id=new_id("ver"),
            account_id=account_id,
            email=email,
            domain=result.domain,
            valid=result.valid,
            mx_found=result.mx_found,
            disposable=result.disposable,
            role_based=result.role_based,
            reason=result.reason,
            created_at=self._clock.now(),
        )

        async def store(conn: aiosqlite.Connection) -> None:
            if metered:
                # Re-checked inside the write: the single writer makes check-and-count atomic.
                if self.quota and await usage_in(conn, account_id, month) >= self.quota:
                    raise QuotaExceeded(quota_message(self.quota, item.created_at))
                await add_usage(conn, account_id, month)
            await insert_verification(conn, item)

        await self._db.write(store)
        self._bus.publish(VerificationRecorded(account_id, item.id, item.email, item.valid, item.reason))
        return item

    async def verify_many(
        self,
        account_id: str,
        emails: Sequence[str],
        *,
        metered: bool = True,
        concurrency: int = BATCH_CONCURRENCY,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Verification]:
        """Verify a list with bounded concurrency; results in input order; `progress(done, total)` per result."""
        total = len(emails)
        results: list[Verification | None] = [None] * total
        pending = iter(range(total))
        done = 0

        async def worker() -> None:
            nonlocal done
            for index in pending:  # one shared iterator: each index is taken by exactly one worker
                results[index] = await self.verify(account_id, emails[index], metered=metered)
                done += 1
                if progress is not None:
                    progress(done, total)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(max(concurrency, 1), total)):
                    group.create_task(worker())
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return [item for item in results if item is not None]

    async def history(self, account_id: str, limit: int, offset: int) -> list[Verification]:
        return await self.repo.history(account_id, limit, offset)

    async def usage(self, account_id: str) -> int:
        """Metered verifications this calendar month (UTC)."""
        return await self.repo.usage(account_id, month_key(self._clock.now()))

    async def close(self) -> None:
        await self.resolver.close()
