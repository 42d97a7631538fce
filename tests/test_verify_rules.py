"""Pure email-verification rules: role-based parts, disposable matching, reasons, input parsing, settings."""

from __future__ import annotations

from pathlib import Path

import disposable_email_domains
import pytest

from tickstem_tui.clock import utc
from tickstem_tui.config import ConfigError, load_settings
from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.verification import (
    REASON_DISPOSABLE,
    REASON_NO_DOMAIN,
    REASON_ROLE_BASED,
    DisposableDomains,
    MailCheck,
    MailLookup,
    assess,
    assess_syntax_error,
    is_role_based,
    month_key,
    normalize_domain,
    parse_dns_servers,
    parse_email_input,
    quota_message,
    strip_plus_tag,
)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("admin", True),
        ("Admin", True),
        ("INFO", True),
        ("support+billing", True),
        ("noreply", True),
        ("no-reply", True),
        ("no.reply", True),
        ("No_Reply", True),
        ("do-not-reply", True),
        ("postmaster", True),
        ("sales+eu+2026", True),
        ("jane", False),
        ("jane+admin", False),
        ("administrators-of-chess", False),
        ("+admin", False),
        ("用户", False),
    ],
)
def test_role_based(local: str, expected: bool) -> None:
    assert is_role_based(local) is expected


def test_plus_tag() -> None:
    assert strip_plus_tag("jane+news") == "jane"
    assert strip_plus_tag("jane") == "jane"
    assert strip_plus_tag("a+b+c") == "a"


def test_disposable_matches_subdomains_and_honours_settings() -> None:
    lists = DisposableDomains(
        ["mailinator.com", "throwaway.example"],
        additions=["TempBox.dev.", "例子.广告"],
        exclusions=["team.throwaway.example"],
    )
    assert lists.matches("mailinator.com")
    assert lists.matches("inbox.MAILINATOR.com")
    assert lists.matches("a.b.c.mailinator.com")
    assert not lists.matches("notmailinator.com")
    assert not lists.matches("mailinator.com.evil.org")
    assert lists.matches("tempbox.dev")
    assert lists.matches("xn--fsqu00a.xn--4rr70v")  # the IDN addition, as the verifier sees it
    assert lists.matches("例子.广告")
    assert lists.matches("throwaway.example")
    assert not lists.matches("team.throwaway.example")  # the most specific entry wins
    assert not lists.matches("x.team.throwaway.example")


def test_exclusion_overrides_the_maintained_list() -> None:
    lists = DisposableDomains(disposable_email_domains.blocklist, exclusions=["mailinator.com"])
    assert not lists.matches("mailinator.com")
    assert lists.matches("guerrillamail.com")
    assert len(lists) > 5000  # far beyond the "200+" the hosted service advertises


def test_normalize_domain() -> None:
    assert normalize_domain(" Example.COM. ") == "example.com"
    assert normalize_domain("exämple.com") == "xn--exmple-cua.com"


def test_assess_valid_and_reason_precedence() -> None:
    mx = MailLookup(MailCheck.MX)
    assert assess("d.com", mx, disposable=False, role_based=False).reason == ""
    role = assess("d.com", mx, disposable=False, role_based=True)
    assert role.valid and role.role_based and role.reason == REASON_ROLE_BASED
    implicit = assess("d.com", MailLookup(MailCheck.IMPLICIT_MX), disposable=False, role_based=False)
    assert implicit.valid and implicit.mx_found
    disposable = assess("d.com", mx, disposable=True, role_based=True)
    assert not disposable.valid and disposable.mx_found and disposable.reason == REASON_DISPOSABLE
    # A definite "no such domain" comes first (MX is checked before the disposable list)...
    gone = assess("d.com", MailLookup(MailCheck.NO_DOMAIN), disposable=True, role_based=False)
    assert not gone.valid and not gone.mx_found and gone.reason == REASON_NO_DOMAIN
    # ...but a lookup that could not finish says nothing, so the definite verdict is named instead.
    timeout = MailLookup(MailCheck.TIMEOUT, "2 s")
    assert assess("d.com", timeout, disposable=True, role_based=False).reason == REASON_DISPOSABLE
    unsure = assess("d.com", timeout, disposable=False, role_based=True)
    assert not unsure.valid and unsure.reason.startswith("DNS lookup timed out after 2 s")


def test_syntax_error_assessment() -> None:
    result = assess_syntax_error("An email address must have an @-sign.")
    assert result.reason == "invalid syntax: an email address must have an @-sign."
    assert not (result.valid or result.mx_found or result.disposable or result.role_based)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "email is required"),
        ("", "email is required"),
        ("   ", "email is required"),
        (42, "email must be a string"),
        (["a@b.com"], "email must be a string"),
        ("a" * 1025, "email must be at most 1024 characters"),
    ],
)
def test_email_input_rejections(value: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_email_input(value)
    assert err.value.message == message


def test_email_input_is_trimmed() -> None:
    assert parse_email_input("  jane@goodmail.com\n") == "jane@goodmail.com"


def test_parse_dns_servers() -> None:
    assert parse_dns_servers("127.0.0.1:5353") == [("127.0.0.1", 5353)]
    assert parse_dns_servers("9.9.9.9") == [("9.9.9.9", 53)]
    assert parse_dns_servers("[::1]:5353, ::1") == [("::1", 5353), ("::1", 53)]
    for bad in ("", "dns.example:53", "127.0.0.1:0", "127.0.0.1:x", "[::1"):
        with pytest.raises(ValueError):
            parse_dns_servers(bad)


def test_month_and_quota_message() -> None:
    assert month_key(utc(2026, 12, 31, 23, 59)) == "2026-12"
    assert quota_message(500, utc(2026, 12, 31)).endswith("it resets on 2027-01-01")
    assert "500 per month" in quota_message(500, utc(2026, 5, 3))


def test_settings_from_env_and_toml(tmp_path: Path) -> None:
    env = {
        "TICKSTEM_TUI_DNS_SERVER": "127.0.0.1:5353",
        "TICKSTEM_TUI_DISPOSABLE_ADDITIONS": "tempbox.dev, junk.example",
        "TICKSTEM_TUI_MAX_VERIFICATIONS_PER_MONTH": "500",
    }
    settings = load_settings(env=env)
    assert settings.dns_server == "127.0.0.1:5353"
    assert settings.disposable_additions == ("tempbox.dev", "junk.example")
    assert settings.max_verifications_per_month == 500
    assert settings.dns_timeout_secs == 2.0

    config = tmp_path / "config.toml"
    config.write_text('disposable_exclusions = ["mailinator.com"]\ndns_timeout_secs = 1\n')
    settings = load_settings(env={}, config_file=config)
    assert settings.disposable_exclusions == ("mailinator.com",)
    assert settings.dns_timeout_secs == 1.0


@pytest.mark.parametrize(
    "overrides",
    [
        {"dns_server": "resolver.lan:53"},
        {"dns_timeout_secs": 6},
        {"dns_timeout_secs": 0},
        {"verification_retention_days": 0},
        {"max_verifications_per_month": -1},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        load_settings(overrides, env={})
