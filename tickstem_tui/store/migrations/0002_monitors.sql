-- Uptime monitors, their raw checks (pruned by retention) and hourly roll-ups (kept, feed uptime %).
-- Times are UTC epoch milliseconds.

CREATE TABLE monitors (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    url                  TEXT NOT NULL,
    interval_secs        INTEGER NOT NULL,
    timeout_secs         INTEGER NOT NULL,
    assertions           TEXT NOT NULL DEFAULT '[]',
    status               TEXT NOT NULL CHECK (status IN ('active', 'paused', 'failing')),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    ssl_expires_at       INTEGER,
    next_check_at        INTEGER,
    last_checked_at      INTEGER,
    last_check_status    TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX monitors_by_account ON monitors (account_id, created_at);
-- The poller's start-up load reads the stored plan of every checked monitor by due time.
CREATE INDEX monitors_due ON monitors (next_check_at) WHERE next_check_at IS NOT NULL;

CREATE TABLE monitor_checks (
    id             TEXT PRIMARY KEY,
    monitor_id     TEXT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    status         TEXT NOT NULL CHECK (status IN ('up', 'down', 'timeout')),
    status_code    INTEGER,
    duration_ms    INTEGER NOT NULL DEFAULT 0,
    error          TEXT NOT NULL DEFAULT '',
    ssl_expires_at INTEGER,
    checked_at     INTEGER NOT NULL
);
CREATE INDEX monitor_checks_by_monitor ON monitor_checks (monitor_id, checked_at DESC);
CREATE INDEX monitor_checks_by_time ON monitor_checks (checked_at);

-- One row per monitor and UTC hour, updated in the same write as each check.
CREATE TABLE monitor_hourly (
    monitor_id        TEXT NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    hour              INTEGER NOT NULL,
    checks            INTEGER NOT NULL DEFAULT 0,
    up_checks         INTEGER NOT NULL DEFAULT 0,
    total_response_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (monitor_id, hour)
) WITHOUT ROWID;
CREATE INDEX monitor_hourly_by_hour ON monitor_hourly (hour);
