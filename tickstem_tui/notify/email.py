"""Email alerts through a configured SMTP server (aiosmtplib: async, never blocks the loop)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from tickstem_tui.domain.alerts import Alert
from tickstem_tui.domain.times import rfc3339
from tickstem_tui.notify.base import DeliveryError


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_secs: float = 10.0


class EmailChannel:
    kind = "email"

    def __init__(self, config: SmtpConfig | None, address: str) -> None:
        self._config = config
        self.target = address

    async def send(self, alert: Alert) -> None:
        config = self._config
        if config is None:
            raise DeliveryError("no SMTP server configured (settings smtp_host and smtp_from)")
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = self.target
        message["Subject"] = f"[tickstem-tui] {alert.title}"
        message.set_content(f"{alert.text}\n\nAt {rfc3339(alert.at)} (UTC).\n")
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                start_tls=config.starttls,
                timeout=config.timeout_secs,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"SMTP delivery to {self.target} failed: {exc}") from exc
