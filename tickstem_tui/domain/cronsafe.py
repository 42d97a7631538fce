"""CronSafe's shapes on the shared heartbeat model: monitor input in minutes and validated alert channels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tickstem_tui.domain.errors import ValidationError
from tickstem_tui.domain.heartbeats import HeartbeatSpec
from tickstem_tui.domain.validation import check_http_url, check_int, check_str

MAX_MINUTES = 525_600
"""A year: longer than any cron job people run, short enough to keep deadlines in range."""
DEFAULT_GRACE_MINUTES = 5
MAX_CHANNELS = 20
SLUG = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
TELEGRAM_CHAT = re.compile(r"^-?\d+$|^@[A-Za-z0-9_]{5,}$")


@dataclass(frozen=True, slots=True)
class MonitorInput:
    spec: HeartbeatSpec
    alert_channels: list[dict[str, str]] | None
    slug: str | None


def parse_monitor(data: Any, base: HeartbeatSpec | None = None) -> MonitorInput:
    """A create body (all required fields) or, with `base`, a partial PUT body."""
    if not isinstance(data, dict):
        raise ValidationError("request body must be a JSON object")
    if base is None and "name" not in data:
        raise ValidationError("name is required")
    if base is None and "expected_interval_minutes" not in data:
        raise ValidationError("expected_interval_minutes is required")
    name = check_str("name", data["name"], max_len=255) if "name" in data else base.name  # type: ignore[union-attr]
    if "expected_interval_minutes" in data:
        interval = check_int("expected_interval_minutes", data["expected_interval_minutes"], low=1, high=MAX_MINUTES)
    else:
        interval = base.interval_secs // 60  # type: ignore[union-attr]
    if "grace_period_minutes" in data:
        grace = check_int("grace_period_minutes", data["grace_period_minutes"], low=0, high=MAX_MINUTES)
    else:
        grace = DEFAULT_GRACE_MINUTES if base is None else base.grace_secs // 60
    channels = parse_channels(data["alert_channels"]) if "alert_channels" in data else None
    slug = None
    if "slug" in data and base is None:
        slug = check_str("slug", data["slug"], max_len=64)
        if not SLUG.match(slug):
            raise ValidationError("slug may use letters, digits, '-' and '_' (1 to 64 characters)")
    return MonitorInput(HeartbeatSpec(name, interval * 60, grace * 60), channels, slug)


def parse_channels(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValidationError("alert_channels must be an array")
    if len(value) > MAX_CHANNELS:
        raise ValidationError(f"at most {MAX_CHANNELS} alert channels")
    return [_channel(n, item) for n, item in enumerate(value)]


def _channel(index: int, item: Any) -> dict[str, str]:
    where = f"alert_channels[{index}]"
    if not isinstance(item, dict):
        raise ValidationError(f"{where} must be an object")
    kind = item.get("type")
    if kind == "email":
        address = check_str(f"{where}.address", item.get("address", ""), max_len=254)
        if not EMAIL.match(address):
            raise ValidationError(f"{where}.address must be an email address")
        return {"type": "email", "address": address}
    if kind in ("slack", "discord"):
        return {"type": kind, "webhook_url": check_http_url(f"{where}.webhook_url", item.get("webhook_url", ""))}
    if kind == "webhook":
        return {"type": "webhook", "url": check_http_url(f"{where}.url", item.get("url", ""))}
    if kind == "telegram":
        token = check_str(f"{where}.bot_token", item.get("bot_token", ""), max_len=200)
        chat = check_str(f"{where}.chat_id", str(item.get("chat_id", "")), max_len=100)
        if not TELEGRAM_TOKEN.match(token):
            raise ValidationError(f"{where}.bot_token must look like 123456:ABC…")
        if not TELEGRAM_CHAT.match(chat):
            raise ValidationError(f"{where}.chat_id must be a numeric chat id or @channel")
        return {"type": "telegram", "bot_token": token, "chat_id": chat}
    raise ValidationError(f"{where}.type must be one of email, slack, discord, telegram, webhook")
