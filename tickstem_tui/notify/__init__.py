"""Alert channels: desktop (D-Bus via desktop-notifier), email (SMTP), Slack, Discord, Telegram, webhooks."""
