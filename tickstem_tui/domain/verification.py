"""Email verification rules: role-based local parts, disposable domains, the mail-DNS verdicts and the result."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

import idna

from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.times import rfc3339

MAX_INPUT_LENGTH = 1024
"""Longer than any address can be (254): such input is refused (400) rather than stored in history."""

# fmt: off
ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "abuse", "accounting", "accounts", "admin", "administrator", "admissions", "all", "billing", "booking",
        "bookings", "careers", "ceo", "compliance", "contact", "contactus", "customercare", "customerservice",
        "customersupport", "dev", "devnull", "developers", "dns", "do-not-reply", "donotreply", "enquiries",
        "enquiry", "events", "everyone", "feedback", "finance", "ftp", "hello", "help", "helpdesk", "hostmaster",
        "hr", "info", "information", "inquiries", "inquiry", "investors", "it", "jobs", "legal", "list", "mail",
        "mailer-daemon", "marketing", "media", "news", "newsletter", "no-reply", "noc", "nobody", "noreply",
        "notifications", "office", "ops", "orders", "partners", "postmaster", "press", "privacy", "purchasing",
        "recruitment", "reply", "reservations", "root", "sales", "security", "service", "services", "shop", "staff",
        "subscribe", "support", "sysadmin", "team", "tech", "unsubscribe", "usenet", "uucp", "webmaster", "welcome",
        "www",
    }
)
# fmt: on
"""Generic inboxes that rarely belong to one person (RFC 2142 mailbox names plus common shared inboxes)."""

_SEPARATORS = re.compile(r"[._-]")


def _role_key(local: str) -> str:
    # "no-reply", "no.reply", "no_reply" and "noreply" are the same inbox to a human reader.
    return _SEPARATORS.sub("", local)


_ROLE_KEYS = frozenset(_role_key(name) for name in ROLE_LOCAL_PARTS)


def strip_plus_tag(local_part: str) -> str:
    """`support+billing` → `support` (RFC 5233 subaddress); the mailbox is what the tag is added to."""
    return local_part.split("+", 1)[0]


def is_role_based(local_part: str) -> bool:
    base = strip_plus_tag(local_part).casefold()
    return bool(base) and (base in ROLE_LOCAL_PARTS or _role_key(base) in _ROLE_KEYS)


def normalize_domain(name: str) -> str:
    """Lower-case ASCII (punycode) form without a trailing dot, so lists and lookups compare equal."""
    text = name.strip().rstrip(".").lower()
    if text.isascii():
        return text
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError:
        return text


class DisposableDomains:
    """A blocklist with user additions and exclusions; a listed domain's subdomains are disposable too.

    The most specific listed name wins, so excluding `team.example.com` keeps it usable while `example.com`
    stays blocked, and excluding `example.com` overrides the maintained list entirely for it.
    """

    def __init__(self, blocklist: Iterable[str], additions: Iterable[str] = (), exclusions: Iterable[str] = ()):
        self._sources = (blocklist, tuple(additions))
        self._allowed = frozenset(normalize_domain(d) for d in exclusions if d.strip())

    @cached_property
    def _blocked(self) -> frozenset[str]:
        # Built on first use: normalizing the ~10,000 maintained names is a fortieth of start-up.
        blocklist, additions = self._sources
        return frozenset(normalize_domain(d) for d in (*blocklist, *additions) if d.strip())

    def __len__(self) -> int:
        return len(self._blocked)

    def matches(self, domain: str) -> bool:
        labels = normalize_domain(domain).split(".")
        for start in range(len(labels)):
            candidate = ".".join(labels[start:])
            if candidate in self._allowed:
                return False
            if candidate in self._blocked:
                return True
        return False


class MailCheck(StrEnum):
    """What DNS says about a domain's mail, from the MX lookup and its A/AAAA fallback."""

    MX = "mx"
    """At least one usable MX record."""
    IMPLICIT_MX = "implicit_mx"
    """No MX but an A or AAAA record: mail goes to the domain itself (RFC 5321 §5.1)."""
    NULL_MX = "null_mx"
    """A single MX of "." (RFC 7505): the domain says it accepts no mail."""
    NO_MAIL_HOST = "no_mail_host"
    """The name exists but has no MX, A or AAAA records."""
    NO_DOMAIN = "no_domain"
    """NXDOMAIN."""
    TIMEOUT = "timeout"
    """No answer within the time bound: nothing is known."""
    DNS_ERROR = "dns_error"
    """SERVFAIL, REFUSED, unreachable resolver…: nothing is known."""

    @property
    def accepts_mail(self) -> bool:
        return self in (MailCheck.MX, MailCheck.IMPLICIT_MX)

    @property
    def inconclusive(self) -> bool:
        return self in (MailCheck.TIMEOUT, MailCheck.DNS_ERROR)


@dataclass(frozen=True, slots=True)
class MailLookup:
    check: MailCheck
    detail: str = ""
    """For failures: the resolver's answer (`SERVFAIL`) or the time bound (`2 s`)."""


REASON_DISPOSABLE = "disposable email provider"
REASON_ROLE_BASED = "role-based address"
REASON_NO_DOMAIN = "domain does not exist"
REASON_NO_MAIL_HOST = "domain has no mail server (no MX, A or AAAA record)"
REASON_NULL_MX = "domain does not accept email (null MX record)"


def syntax_reason(message: str) -> str:
    """`invalid syntax: an email address must have an @-sign.` from email-validator's message."""
    text = message.strip() or "not an email address."
    return f"invalid syntax: {text[0].lower()}{text[1:]}"


def mail_reason(lookup: MailLookup) -> str:
    match lookup.check:
        case MailCheck.NO_DOMAIN:
            return REASON_NO_DOMAIN
        case MailCheck.NO_MAIL_HOST:
            return REASON_NO_MAIL_HOST
        case MailCheck.NULL_MX:
            return REASON_NULL_MX
        case MailCheck.TIMEOUT:
            return f"DNS lookup timed out after {lookup.detail}; could not confirm the domain accepts mail"
        case MailCheck.DNS_ERROR:
            return f"DNS lookup failed ({lookup.detail}); could not confirm the domain accepts mail"
    return ""


@dataclass(frozen=True, slots=True)
class Assessment:
    """The four checks' outcome for one address, before it is stored."""

    valid: bool
    mx_found: bool
    disposable: bool
    role_based: bool
    reason: str
    domain: str = ""
    """ASCII (punycode) domain; empty when the syntax check failed."""


def assess_syntax_error(message: str) -> Assessment:
    """A bad address: no further check can run on it, so every flag is false."""
    return Assessment(valid=False, mx_found=False, disposable=False, role_based=False, reason=syntax_reason(message))


def assess(domain: str, mail: MailLookup, *, disposable: bool, role_based: bool) -> Assessment:
    """Combine a well-formed address's checks: valid = mail accepted and not disposable; role never counts.

    `reason` names the first check that failed, in the documented order (MX, then disposable). A lookup
    that could not finish (timeout, server failure) says nothing about the domain, so a definite verdict
    such as "disposable" is named in preference to it. A valid role-based address says so, as the
    reference client fixtures do; any other valid address has an empty reason.
    """
    mx_found = mail.check.accepts_mail
    valid = mx_found and not disposable
    if not mx_found and not mail.check.inconclusive:
        reason = mail_reason(mail)
    elif disposable:
        reason = REASON_DISPOSABLE
    elif not mx_found:
        reason = mail_reason(mail)
    elif role_based:
        reason = REASON_ROLE_BASED
    else:
        reason = ""
    return Assessment(
        valid=valid, mx_found=mx_found, disposable=disposable, role_based=role_based, reason=reason, domain=domain
    )


@dataclass(frozen=True, slots=True)
class Verification:
    """One stored verification, the shape every client reads (contract §2.1.7)."""

    id: str
    account_id: str
    email: str
    domain: str
    valid: bool
    mx_found: bool
    disposable: bool
    role_based: bool
    reason: str
    created_at: datetime


def verification_to_dict(item: Verification) -> dict[str, Any]:
    return {
        "id": item.id,
        "user_id": item.account_id,
        "email": item.email,
        "valid": item.valid,
        "mx_found": item.mx_found,
        "disposable": item.disposable,
        "role_based": item.role_based,
        "reason": item.reason,
        "created_at": rfc3339(item.created_at),
    }


def month_key(moment: datetime) -> str:
    """The calendar month (UTC) a metered verification counts towards, e.g. `2026-05`."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def quota_message(quota: int, moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return f"monthly verification quota reached ({quota} per month); it resets on {year:04d}-{month:02d}-01"


def parse_email_input(value: Any) -> str:
    """The `email` of a request: a non-empty string of sane length (its syntax is the verifier's verdict)."""
    if value is None:
        raise ValidationError("email is required")
    if not isinstance(value, str):
        raise ValidationError("email must be a string")
    text = value.strip()
    if not text:
        raise ValidationError("email is required")
    if len(text) > MAX_INPUT_LENGTH:
        raise ValidationError(f"email must be at most {MAX_INPUT_LENGTH} characters")
    return text


def parse_dns_servers(text: str) -> list[tuple[str, int]]:
    """`HOST[:PORT]` (IP literal; IPv6 as `[::1]:5353`), comma-separated for several; port 53 by default."""
    servers = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, port = item, 53
        if item.startswith("["):
            host, sep, rest = item[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                raise ValueError(f"{item!r} is not HOST:PORT")
            if rest:
                port = _port(item, rest[1:])
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            port = _port(item, port_text)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{item!r}: the DNS server must be an IP address, not {host!r}") from None
        servers.append((str(address), port))
    if not servers:
        raise ValueError("no DNS server given")
    return servers


def _port(item: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"{item!r}: port must be 1-65535")
    return int(text)
