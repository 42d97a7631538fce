-- Email verification history and the per-month usage that the optional quota counts.
-- Times are UTC epoch milliseconds.

CREATE TABLE verifications (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    domain      TEXT NOT NULL DEFAULT '',
    valid       INTEGER NOT NULL,
    mx_found    INTEGER NOT NULL,
    disposable  INTEGER NOT NULL,
    role_based  INTEGER NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
-- Newest first per account; rowid (in every index entry) breaks ties within one millisecond.
CREATE INDEX verifications_by_account ON verifications (account_id, created_at);
CREATE INDEX verifications_by_time ON verifications (created_at);

-- Kept apart from the history so that pruning history never hands quota back.
CREATE TABLE verification_usage (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    month       TEXT NOT NULL,
    count       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, month)
);
