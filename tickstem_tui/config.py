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
    max_request_bytes: int = 256 * 1024

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, kind: Any) -> Any:
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
