-- Heartbeats: one table behind both faces (Tickstem heartbeats, CronSafe monitors), their pings,
-- and the stretches the watchdog could not observe. Times are UTC epoch milliseconds.

CREATE TABLE heartbeats (
    id                  TEXT PRIMARY KEY,            -- hb_… (Tickstem) or a UUID (CronSafe)
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    face                TEXT NOT NULL CHECK (face IN ('tickstem', 'cronsafe')),
    name                TEXT NOT NULL,
    token               TEXT NOT NULL UNIQUE,        -- 64 lowercase hex: the Tickstem ping credential
    slug                TEXT UNIQUE,                 -- the CronSafe ping identifier; NULL for Tickstem
    interval_secs       INTEGER NOT NULL CHECK (interval_secs > 0),
    grace_secs          INTEGER NOT NULL CHECK (grace_secs >= 0),
    -- new (never pinged) / up / down / paused; each face maps it onto its own status words.
    state               TEXT NOT NULL CHECK (state IN ('new', 'up', 'down', 'paused')),
    consecutive_misses  INTEGER NOT NULL DEFAULT 0,
    last_ping_at        INTEGER,
    last_start_at       INTEGER,                     -- CronSafe /start: the pending run's start
    last_duration_ms    INTEGER,
    last_failure_output TEXT,
    next_expected_at    INTEGER,                     -- the deadline before grace
    alert_after         INTEGER,                     -- deadline + grace: the watchdog's wake-up key; NULL = unwatched
    alert_channels      TEXT NOT NULL DEFAULT '[]',  -- JSON array of CronSafe channel objects
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX heartbeats_by_account ON heartbeats (account_id, face, created_at);
-- The watchdog sleeps until MIN(alert_after) and fetches what is due by range: both come from this index.
CREATE INDEX heartbeats_alert_after ON heartbeats (alert_after) WHERE alert_after IS NOT NULL;

CREATE TABLE heartbeat_pings (
    seq          INTEGER PRIMARY KEY,                -- arrival order (ties on received_at)
    id           TEXT NOT NULL,                      -- the wire id: hbp_… or a UUID
    heartbeat_id TEXT NOT NULL REFERENCES heartbeats (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail')),
    received_at  INTEGER NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    output       TEXT,
    duration_ms  INTEGER,                            -- set on the ping that completed a started run
    paused       INTEGER NOT NULL DEFAULT 0          -- 1: arrived while paused and changed nothing
);
CREATE INDEX heartbeat_pings_by_heartbeat ON heartbeat_pings (heartbeat_id, received_at);
CREATE INDEX heartbeat_pings_by_time ON heartbeat_pings (received_at);

-- A stretch the watchdog could not observe: the machine slept (the wall clock jumped past the wake-up
-- it asked for) or the server was not running. Heartbeats whose deadline or alert threshold fell inside
-- were re-armed from `ended_at` instead of counting misses: the pings they waited for could not arrive.
CREATE TABLE watchdog_gaps (
    id         INTEGER PRIMARY KEY,
    reason     TEXT NOT NULL CHECK (reason IN ('suspend', 'stopped')),
    started_at INTEGER NOT NULL,                     -- suspend: the watchdog's last look; stopped: the first missed threshold
    ended_at   INTEGER NOT NULL,                     -- when the watchdog noticed (wake or start-up)
    rearmed    INTEGER NOT NULL                      -- heartbeats re-armed from ended_at
);
CREATE INDEX watchdog_gaps_by_time ON watchdog_gaps (ended_at);
