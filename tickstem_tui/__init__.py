"""tickstem-tui: a local, keyboard-driven console for cron jobs, uptime, heartbeats and email checks."""

__version__ = "0.1.0"
