"""HTTP alert channels: a generic JSON webhook, Slack, Discord and Telegram, over the shared session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tickstem_tui.domain.alerts import Alert, Direction
from tickstem_tui.domain.times import rfc3339
from tickstem_tui.notify.base import DeliveryError

TIMEOUT = aiohttp.ClientTimeout(total=10)
RED, GREEN, AMBER = 0xEF4444, 0x22C55E, 0xF59E0B


async def _post(session: aiohttp.ClientSession, url: str, payload: dict[str, Any], what: str) -> None:
    try:
        async with session.post(url, json=payload, timeout=TIMEOUT, allow_redirects=False) as response:
            if not 200 <= response.status < 300:
                body = (await response.content.read(200)).decode("utf-8", "replace")
                raise DeliveryError(f"{what} answered HTTP {response.status}: {body}".strip())
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise DeliveryError(f"{what} unreachable: {exc or type(exc).__name__}") from exc


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


class WebhookChannel:
    """CronSafe's documented generic webhook payload."""

    kind = "webhook"

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session, self._url, self.target = session, url, _host(url)

    async def send(self, alert: Alert) -> None:
        state = {Direction.DOWN: "is DOWN", Direction.UP: "is UP"}.get(alert.direction, "needs attention")
        payload = {
            "monitor_id": alert.subject_id,
            "monitor_name": alert.subject_name,
            "status": alert.direction.value,
            "message": f'[CronSafe] Monitor "{alert.subject_name}" {state}. {alert.reason}'.strip(),
            "timestamp": rfc3339(alert.at),
        }
        await _post(self._session, self._url, payload, "webhook")


class SlackChannel:
    kind = "slack"

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session, self._url, self.target = session, url, _host(url)

    async def send(self, alert: Alert) -> None:
        await _post(self._session, self._url, {"text": alert.text}, "Slack")


class DiscordChannel:
    kind = "discord"

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session, self._url, self.target = session, url, _host(url)

    async def send(self, alert: Alert) -> None:
        embed = {
            "title": alert.title,
            "description": alert.reason,
            "color": {Direction.DOWN: RED, Direction.WARNING: AMBER}.get(alert.direction, GREEN),
            "timestamp": rfc3339(alert.at),
            "footer": {"text": "tickstem-tui"},
        }
        await _post(self._session, self._url, {"content": alert.title, "embeds": [embed]}, "Discord")


class TelegramChannel:
    kind = "telegram"

    def __init__(self, session: aiohttp.ClientSession, api_base: str, bot_token: str, chat_id: str) -> None:
        self._session = session
        self._url = f"{api_base.rstrip('/')}/bot{bot_token}/sendMessage"
        self._chat_id = chat_id
        self.target = f"chat {chat_id}"

    async def send(self, alert: Alert) -> None:
        await _post(self._session, self._url, {"chat_id": self._chat_id, "text": alert.text}, "Telegram")
