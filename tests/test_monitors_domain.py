"""Pure uptime rules: input validation, assertion evaluation, the failing/recovery rule, uptime arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tickstem_tui.clock import utc
from tickstem_tui.domain.alerts import Direction, alert_for
from tickstem_tui.domain.errors import QuotaExceeded, ValidationError
from tickstem_tui.domain.monitors import (
    CERTIFICATE_EXPIRING,
    CERTIFICATE_OK,
    Assertion,
    CheckStatus,
    Comparison,
    Monitor,
    MonitorSpec,
    MonitorStatus,
    Response,
    Source,
    certificate_flip,
    classify,
    evaluate_assertions,
    parse_spec,
    percent,
    replan,
    status_after_check,
    window_start,
    with_status,
)
from tickstem_tui.domain.validation import check_http_url

NOW = utc(2026, 5, 1, 12, 30)
BASE = {"name": "api", "url": "https://example.com/health"}


def a(source: str, comparison: str, target: str) -> Assertion:
    return Assertion(Source(source), Comparison(comparison), target)


def test_defaults_and_python_sdk_body() -> None:
    spec = parse_spec(dict(BASE), 30)
    assert (spec.interval_secs, spec.timeout_secs, spec.assertions) == (60, 10, ())
    full = parse_spec({**BASE, "interval_secs": 86400, "timeout_secs": 30, "assertions": []}, 30)
    assert (full.interval_secs, full.timeout_secs) == (86400, 30)
    # MCP/Go omit or null absent values: defaults apply.
    assert parse_spec({**BASE, "interval_secs": None, "assertions": None}, 30).interval_secs == 60


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": ""}, "name must not be empty"),
        ({"name": None, "url": "https://x"}, "name is required"),
        ({"url": "ftp://x"}, "url must be an http:// or https:// URL"),
        ({"url": 5}, "url must be a string"),
        ({"interval_secs": 86401}, "interval_secs must be between 1 and 86400"),
        ({"interval_secs": 0}, "interval_secs must be between 1 and 86400"),
        ({"interval_secs": "60"}, "interval_secs must be an integer"),
        ({"interval_secs": 60.5}, "interval_secs must be an integer"),
        ({"timeout_secs": 4}, "timeout_secs must be between 5 and 30"),
        ({"timeout_secs": 31}, "timeout_secs must be between 5 and 30"),
        ({"timeout_secs": True}, "timeout_secs must be an integer"),
        ({"assertions": {}}, "assertions must be an array"),
        ({"assertions": ["x"]}, "assertions[0] must be an object"),
        ({"assertions": [{"source": "header", "comparison": "eq", "target": "1"}]}, "assertions[0].source must be"),
        ({"assertions": [{"source": "body", "comparison": "like", "target": "1"}]}, "assertions[0].comparison must"),
        (
            {"assertions": [{"source": "body", "comparison": "lt", "target": "5"}]},
            "comparison 'lt' cannot be used with source 'body' (use eq, ne, contains, not_contains)",
        ),
        (
            {"assertions": [{"source": "status_code", "comparison": "contains", "target": "2"}]},
            "comparison 'contains' cannot be used with source 'status_code'",
        ),
        ({"assertions": [{"source": "status_code", "comparison": "eq"}]}, "assertions[0].target is required"),
        (
            {"assertions": [{"source": "status_code", "comparison": "eq", "target": "2xx"}]},
            "must be a non-negative integer string",
        ),
        (
            {"assertions": [{"source": "response_time", "comparison": "lt", "target": "1.5"}]},
            "must be a non-negative integer string",
        ),
        (
            {"assertions": [{"source": "response_time", "comparison": "lt", "target": "-1"}]},
            "must be a non-negative integer string",
        ),
        ({"assertions": [{"source": "status_code", "comparison": "eq", "target": "1000"}]}, "at most 999"),
        ({"assertions": [{"source": "status_code", "comparison": "eq", "target": 2.0}]}, "must be an integer string"),
        ({"assertions": [{"source": "body", "comparison": "eq", "target": 5}]}, "target must be a string"),
        ({"assertions": [{"source": "body", "comparison": "eq", "target": "x" * 1001}]}, "at most 1000 characters"),
        ({"assertions": [{"source": "body", "comparison": "eq", "target": "ok"}] * 21}, "at most 20 assertions"),
    ],
)
def test_bad_input_is_a_validation_error_with_its_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_spec({**BASE, **change}, 30)
    assert reason in err.value.message


def test_interval_below_the_minimum_is_a_plan_limit() -> None:
    with pytest.raises(QuotaExceeded) as err:
        parse_spec({**BASE, "interval_secs": 29}, 30)
    assert err.value.message == "interval_secs 29 is below the minimum of 30 seconds"
    assert parse_spec({**BASE, "interval_secs": 5}, 5).interval_secs == 5


def test_numeric_targets_are_normalised_integer_strings() -> None:
    spec = parse_spec(
        {
            **BASE,
            "assertions": [
                {"source": "status_code", "comparison": "eq", "target": " 200 "},
                {"source": "response_time", "comparison": "lt", "target": 2000},
                {"source": "status_code", "comparison": "ne", "target": "0500"},
                {"source": "body", "comparison": "contains", "target": ' "ok" '},
            ],
        },
        30,
    )
    assert [x.target for x in spec.assertions] == ["200", "2000", "500", ' "ok" ']


def test_patch_merges_and_replaces_assertions() -> None:
    base = parse_spec({**BASE, "assertions": [{"source": "status_code", "comparison": "eq", "target": "200"}]}, 30)
    renamed = parse_spec({"name": "renamed"}, 30, base=base)
    assert renamed.assertions == base.assertions and renamed.url == base.url
    cleared = parse_spec({"assertions": []}, 30, base=base)
    assert cleared.assertions == () and cleared.name == "api"
    with pytest.raises(ValidationError):
        parse_spec({"timeout_secs": 2}, 30, base=base)


RESPONSE = Response(status_code=200, duration_ms=120, body='{"status":"ok"}\n')


@pytest.mark.parametrize(
    ("assertion", "response", "holds"),
    [
        (a("status_code", "eq", "200"), RESPONSE, True),
        (a("status_code", "eq", "201"), RESPONSE, False),
        (a("status_code", "ne", "500"), RESPONSE, True),
        (a("status_code", "lt", "300"), RESPONSE, True),
        (a("status_code", "lt", "200"), RESPONSE, False),
        (a("status_code", "lte", "200"), RESPONSE, True),
        (a("status_code", "gt", "199"), RESPONSE, True),
        (a("status_code", "gte", "201"), RESPONSE, False),
        (a("response_time", "lt", "121"), RESPONSE, True),
        (a("response_time", "lt", "120"), RESPONSE, False),
        (a("response_time", "lte", "120"), RESPONSE, True),
        (a("response_time", "gt", "119"), RESPONSE, True),
        (a("response_time", "eq", "120"), RESPONSE, True),
        (a("body", "contains", '"status":"ok"'), RESPONSE, True),
        (a("body", "contains", "error"), RESPONSE, False),
        (a("body", "not_contains", "error"), RESPONSE, True),
        (a("body", "not_contains", "ok"), RESPONSE, False),
        (a("body", "eq", '{"status":"ok"}'), RESPONSE, True),  # the trailing newline is ignored
        (a("body", "ne", '{"status":"ok"}'), RESPONSE, False),
        (a("body", "eq", "ok"), RESPONSE, False),
        (a("body", "eq", ""), Response(200, 1, ""), True),
        (a("body", "eq", "abc"), Response(200, 1, "abc", body_truncated=True), False),
        (a("body", "ne", "abc"), Response(200, 1, "abc", body_truncated=True), True),
    ],
)
def test_assertion_table(assertion: Assertion, response: Response, holds: bool) -> None:
    assert (evaluate_assertions((assertion,), response) is None) is holds


def test_failed_assertions_are_named_in_the_error() -> None:
    error = evaluate_assertions(
        (a("status_code", "eq", "200"), a("body", "contains", "ok"), a("response_time", "lt", "100")),
        Response(503, 250, "maintenance"),
    )
    assert error == (
        "assertion failed: status_code eq '200' (got 503); "
        "assertion failed: body contains 'ok' (body was 'maintenance'); "
        "assertion failed: response_time lt '100' (took 250 ms)"
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [(code, CheckStatus.UP) for code in (200, 204, 301, 399)]
    + [(code, CheckStatus.DOWN) for code in (100, 404, 500, 503)],
)
def test_default_rule_is_2xx_or_3xx(code: int, status: CheckStatus) -> None:
    outcome, error = classify(MonitorSpec("m", "http://x"), Response(code, 5))
    assert outcome is status
    assert error == ("" if status is CheckStatus.UP else f"HTTP {code} response")


def test_assertions_replace_the_default_rule() -> None:
    expects_404 = MonitorSpec("m", "http://x", assertions=(a("status_code", "eq", "404"),))
    assert classify(expects_404, Response(404, 5)) == (CheckStatus.UP, "")
    assert classify(expects_404, Response(200, 5))[0] is CheckStatus.DOWN


def _monitor(status: MonitorStatus = MonitorStatus.ACTIVE, failures: int = 0) -> Monitor:
    return Monitor(
        id="mon_1",
        account_id="acct",
        spec=MonitorSpec("m", "http://x"),
        status=status,
        consecutive_failures=failures,
        ssl_expires_at=None,
        next_check_at=NOW,
        last_checked_at=None,
        last_check_status=None,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("status", "failures", "outcome", "expected"),
    [
        (MonitorStatus.ACTIVE, 0, CheckStatus.UP, (MonitorStatus.ACTIVE, 0)),
        (MonitorStatus.ACTIVE, 0, CheckStatus.DOWN, (MonitorStatus.ACTIVE, 1)),
        (MonitorStatus.ACTIVE, 1, CheckStatus.TIMEOUT, (MonitorStatus.FAILING, 2)),
        (MonitorStatus.ACTIVE, 1, CheckStatus.UP, (MonitorStatus.ACTIVE, 0)),
        (MonitorStatus.FAILING, 2, CheckStatus.DOWN, (MonitorStatus.FAILING, 3)),
        (MonitorStatus.FAILING, 7, CheckStatus.UP, (MonitorStatus.ACTIVE, 0)),
        (MonitorStatus.PAUSED, 1, CheckStatus.DOWN, (MonitorStatus.PAUSED, 1)),
        (MonitorStatus.PAUSED, 1, CheckStatus.UP, (MonitorStatus.PAUSED, 1)),
    ],
)
def test_state_rule(
    status: MonitorStatus, failures: int, outcome: CheckStatus, expected: tuple[MonitorStatus, int]
) -> None:
    assert status_after_check(_monitor(status, failures), outcome, failing_after=2) == expected


def test_pause_resume_and_replan() -> None:
    failing = _monitor(MonitorStatus.FAILING, 3)
    paused = with_status(failing, MonitorStatus.PAUSED, NOW)
    assert (paused.status, paused.next_check_at, paused.consecutive_failures) == (MonitorStatus.PAUSED, None, 3)
    later = NOW + timedelta(hours=1)
    resumed = with_status(paused, MonitorStatus.ACTIVE, later)
    assert (resumed.status, resumed.consecutive_failures, resumed.next_check_at) == (MonitorStatus.ACTIVE, 0, later)
    planned = _monitor()
    assert replan(planned, planned.spec, NOW - timedelta(seconds=10)) == NOW
    moved = Monitor(**{**{f: getattr(planned, f) for f in planned.__slots__}, "spec": MonitorSpec("m", "http://y")})
    assert replan(moved, planned.spec, later) == later


def test_uptime_arithmetic() -> None:
    assert percent(0, 0) is None
    assert percent(3, 4) == 75.0
    assert percent(99_999, 100_000) == 99.999
    assert percent(999_999, 1_000_000) == 99.999  # floored: never rounds up to 100 while a check failed
    assert percent(5, 5) == 100.0
    assert window_start(NOW, timedelta(hours=24)) == utc(2026, 4, 30, 13)


def _checked(expires: datetime | None, at: datetime | None) -> Monitor:
    return replace(_monitor(), ssl_expires_at=expires, last_checked_at=at)


def test_a_certificate_warns_once_as_it_nears_expiry_and_notes_its_renewal() -> None:
    expiry = NOW + timedelta(days=40)
    day = timedelta(days=1)
    # 40 and 31 days out: fine; the first check at 30 days or less warns; later checks do not repeat it.
    assert certificate_flip(_checked(None, None), _checked(expiry, NOW), 30) is None
    assert certificate_flip(_checked(expiry, NOW), _checked(expiry, NOW + 9 * day), 30) is None
    warned = certificate_flip(_checked(expiry, NOW + 9 * day), _checked(expiry, NOW + 10 * day), 30)
    assert warned is not None
    assert (warned.old_status, warned.new_status) == (CERTIFICATE_OK, CERTIFICATE_EXPIRING)
    assert warned.reason == "TLS certificate expires in 30 days (2026-06-10 12:30 UTC)"
    assert warned.at == NOW + 10 * day and warned.subject_kind == "monitor"
    assert certificate_flip(_checked(expiry, NOW + 10 * day), _checked(expiry, NOW + 39 * day), 30) is None
    # A first check that already finds it close warns at once; one that finds it expired says so.
    first = certificate_flip(_checked(None, None), _checked(NOW + day, NOW), 30)
    assert first is not None and first.reason.startswith("TLS certificate expires in 1 day ")
    gone = certificate_flip(_checked(None, None), _checked(NOW - day, NOW), 30)
    assert gone is not None and gone.reason.startswith("TLS certificate has expired ")
    # Renewed: noted, and a later approach to the new expiry warns again.
    renewed = certificate_flip(_checked(expiry, NOW + 20 * day), _checked(NOW + 400 * day, NOW + 21 * day), 30)
    assert renewed is not None and (renewed.old_status, renewed.new_status) == (CERTIFICATE_EXPIRING, CERTIFICATE_OK)
    assert alert_for(1, renewed) is None  # quiet: nothing needs doing
    # A failed check keeps the last known expiry; turned off with 0 days.
    assert certificate_flip(_checked(expiry, NOW + 10 * day), _checked(expiry, NOW + 11 * day), 30) is None
    assert certificate_flip(_checked(None, None), _checked(NOW + day, NOW), 0) is None


def test_a_certificate_warning_is_an_alert_of_its_own() -> None:
    flip = certificate_flip(_checked(None, None), _checked(NOW + timedelta(days=12), NOW), 30)
    assert flip is not None
    alert = alert_for(7, flip)
    assert alert is not None and alert.direction is Direction.WARNING
    assert alert.title == "Monitor “m”: TLS certificate expires in 12 days (2026-05-13 12:30 UTC)"
    assert alert.text == alert.title


def test_url_checks_name_the_field_every_time_even_for_a_url_seen_before() -> None:
    for key in ("endpoint", "url", "endpoint"):
        with pytest.raises(ValidationError, match=f"^{key} has an invalid port$"):
            check_http_url(key, "http://example.test:99999/x")
        assert check_http_url(key, " https://example.test/ok ") == "https://example.test/ok"
