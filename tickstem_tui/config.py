"""Typed settings from flags, environment (TICKSTEM_TUI_*) and an optional TOML file, validated once."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tickstem_tui import paths
from tickstem_tui.domain.verification import parse_dns_servers

ENV_PREFIX = "TICKSTEM_TUI_"


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable; defaults suit a laptop bound to loopback."""

    host: str = "127.0.0.1"
    port: int = 8090
    db_path: Path = field(default_factory=paths.default_db_path)
    api_key: str | None = None
    """An extra key made valid for the owner account (for scripts); stored hashed like any other."""

    execution_retention_days: int = 90
    max_concurrent_executions: int = 1000
    """Upper bound on job HTTP calls in flight at once; more due jobs wait their turn."""
    default_job_retries: int = 2
    """Network-error retries within one execution when a job does not set its own."""
    retry_backoff_secs: float = 1.0
    failing_after: int = 2
    """Consecutive non-successes that flip a job, monitor or heartbeat to failing."""
    shutdown_timeout_secs: float = 5.0
    min_monitor_interval_secs: int = 30
    """Shortest uptime check interval accepted; below it the API answers 402 (Tickstem's plan minimum)."""
    check_retention_days: int = 90
    """Raw uptime checks older than this are pruned; hourly roll-ups keep the uptime percentages."""
    poller_concurrency: int = 20
    """Most uptime checks in flight at once; more wait for a slot (their timing starts when they get one).

    Measured (tests/bench/uptime_checks.py, 2 cores, 2,000 loopback monitors due at once): throughput is
    loop-bound at a few hundred checks/s whatever the bound, while the median reported time grows with it
    (about 18 ms at 20, 87 ms at 100, 510 ms at 500), so a small bound keeps response times honest."""
    monitor_ca_file: Path | None = None
    """Extra CA certificates (PEM) trusted by uptime checks, e.g. a private or test CA."""
    certificate_warning_days: int = 30
    """An https monitor whose certificate expires within this many days alerts once (0: never)."""
    max_request_bytes: int = 256 * 1024
    dns_server: str | None = None
    """Resolver for email MX lookups as HOST:PORT (an IP; comma-separate several); unset: the system's resolvers."""
    dns_timeout_secs: float = 2.0
    """Upper bound on all DNS lookups for one email domain (the Python SDK gives up after 5 s)."""
    verification_retention_days: int = 90
    max_verifications_per_month: int = 0
    """Email verifications each account may run per calendar month (UTC) before 402; 0 = unlimited."""
    disposable_additions: tuple[str, ...] = ()
    """Domains to treat as disposable on top of the maintained list (their subdomains too)."""
    disposable_exclusions: tuple[str, ...] = ()
    """Domains never to treat as disposable, even if the maintained list names them."""
    ping_retention_days: int = 30
    """Heartbeat pings older than this are pruned (the heartbeats themselves are kept)."""
    max_pings_per_heartbeat: int = 10_000
    """Newest pings kept per heartbeat, whatever their age, so a chatty job cannot grow the history unbounded."""
    max_heartbeats: int = 0
    """Heartbeats (and CronSafe monitors) each account may have before 402/403; 0 = unlimited."""
    suspend_detect_secs: float = 15.0
    """A watchdog wake-up this much later than planned means the machine slept (or the clock jumped):
    deadlines that passed meanwhile are re-armed from the wake time instead of counted as misses."""
    desktop_notifications: bool = True
    """Alert the owner through the desktop's notification service (session D-Bus) as well as in the console."""
    alert_email: str | None = None
    """Also email the owner's alerts here (needs smtp_host and smtp_from)."""
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    telegram_api_base: str = "https://api.telegram.org"
    rate_limit_auth: int = 10
    """CronSafe /api/auth/* requests per client IP per minute (0 turns the limit off)."""
    rate_limit_api: int = 100
    """Other CronSafe /api/* requests (badges included) per client IP per minute."""
    rate_limit_ping: int = 1000
    """CronSafe /ping/* requests per client IP per minute."""
    cronsafe_max_monitors: int = 0
    """CronSafe monitors per account before 403 "Monitor limit reached"; 0 = unlimited."""
    flip_retention_days: int = 90
    """Processed state changes (and their alert deliveries) kept for history."""

    @property
    def rate_limits(self) -> dict[str, int]:
        return {"auth": self.rate_limit_auth, "api": self.rate_limit_api, "ping": self.rate_limit_ping}

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    if kind == "tuple[str, ...]":
        # A TOML array, or a comma-separated string from the environment or a flag.
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    text = str(raw)
    try:
        if kind in (int, "int"):
            return int(text)
        if kind in (float, "float"):
            return float(text)
        if kind in (Path, "Path"):
            return Path(text).expanduser()
        if kind in (bool, "bool"):
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
    except ValueError as exc:
        raise ConfigError(f"{name}: cannot use {raw!r}") from exc
    return text


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge TOML file < environment < explicit overrides (flags), then validate."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {f.name: f.type for f in fields(Settings)}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"unknown setting {key!r} in {config_file}")
            values[key] = value
    for name in known:
        if (raw := env.get(ENV_PREFIX + name.upper())) is not None:
            values[name] = raw
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    coerced = {}
    for name, value in values.items():
        kind = str(known[name]).split(" |")[0].strip()
        coerced[name] = _coerce(name, value, kind)
    settings = Settings(**coerced)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if not 0 <= settings.port <= 65535:
        raise ConfigError(f"port must be 0-65535, not {settings.port}")
    if settings.execution_retention_days < 1:
        raise ConfigError("execution_retention_days must be at least 1")
    if settings.max_concurrent_executions < 1:
        raise ConfigError("max_concurrent_executions must be at least 1")
    if not 0 <= settings.default_job_retries <= 10:
        raise ConfigError("default_job_retries must be 0-10")
    if settings.failing_after < 1:
        raise ConfigError("failing_after must be at least 1")
    if settings.ping_retention_days < 1:
        raise ConfigError("ping_retention_days must be at least 1")
    if settings.max_pings_per_heartbeat < 1:
        raise ConfigError("max_pings_per_heartbeat must be at least 1")
    if settings.max_heartbeats < 0:
        raise ConfigError("max_heartbeats must be 0 (unlimited) or more")
    if not 1.0 <= settings.suspend_detect_secs <= 3600.0:
        raise ConfigError("suspend_detect_secs must be 1-3600")
    if not 0.05 <= settings.dns_timeout_secs <= 4.0:
        raise ConfigError("dns_timeout_secs must be 0.05-4.0 (the Python SDK gives up after 5 s)")
    if settings.dns_server is not None:
        try:
            parse_dns_servers(settings.dns_server)
        except ValueError as exc:
            raise ConfigError(f"dns_server: {exc}") from exc
    if settings.verification_retention_days < 1:
        raise ConfigError("verification_retention_days must be at least 1")
    if settings.max_verifications_per_month < 0:
        raise ConfigError("max_verifications_per_month must be 0 (unlimited) or more")
    if not 1 <= settings.min_monitor_interval_secs <= 86400:
        raise ConfigError("min_monitor_interval_secs must be 1-86400")
    if settings.check_retention_days < 1:
        raise ConfigError("check_retention_days must be at least 1")
    if not 0 <= settings.certificate_warning_days <= 365:
        raise ConfigError("certificate_warning_days must be 0-365")
    if settings.poller_concurrency < 1:
        raise ConfigError("poller_concurrency must be at least 1")
    if settings.monitor_ca_file is not None and not settings.monitor_ca_file.is_file():
        raise ConfigError(f"monitor_ca_file {settings.monitor_ca_file} is not a readable file")
