-- Accounts, API keys, server secrets, cron jobs, executions and the flip outbox.
-- Times are UTC epoch milliseconds.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('owner', 'cronsafe')),
    email         TEXT UNIQUE COLLATE NOCASE,
    password_hash TEXT,
    plan          TEXT NOT NULL DEFAULT 'free',
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE jobs (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    schedule             TEXT NOT NULL,
    endpoint             TEXT NOT NULL,
    method               TEXT NOT NULL,
    headers              TEXT NOT NULL DEFAULT '{}',
    timeout_secs         INTEGER NOT NULL,
    retries              INTEGER,
    status               TEXT NOT NULL CHECK (status IN ('active', 'paused', 'failing')),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_run_at          INTEGER,
    last_run_at          INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE executions (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    status_code  INTEGER,
    duration_ms  INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    scheduled_at INTEGER NOT NULL,
    triggered_at INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    manual       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX executions_by_job ON executions (job_id, triggered_at DESC);
CREATE INDEX executions_by_time ON executions (triggered_at);

-- State changes (healthchecks' flips); rows with processed_at NULL are the alert outbox.
CREATE TABLE flips (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    old_status   TEXT NOT NULL,
    new_status   TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    processed_at INTEGER
);
CREATE INDEX flips_outbox ON flips (id) WHERE processed_at IS NULL;
CREATE INDEX flips_by_subject ON flips (subject_id, id DESC);
