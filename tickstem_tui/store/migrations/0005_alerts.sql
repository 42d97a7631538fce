-- One row per alert delivery attempt: which flip, which channel, whether it arrived.

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    flip_id    INTEGER NOT NULL REFERENCES flips (id) ON DELETE CASCADE,
    channel    TEXT NOT NULL,
    target     TEXT NOT NULL,
    ok         INTEGER NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX notifications_by_flip ON notifications (flip_id);
CREATE INDEX flips_by_time ON flips (created_at);
