"""The embedded HTTP server: Tickstem /v1, CronSafe /api and /ping, the status page."""
