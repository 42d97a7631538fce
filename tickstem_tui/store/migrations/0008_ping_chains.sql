-- Each heartbeat's pings form a chain, newest first: the heartbeat row names its newest ping
-- (`last_ping_seq`) and each ping the one before it (`prev_seq`). A ping row then goes onto the
-- table's last page instead of into a per-heartbeat index, where pings of different heartbeats dirtied a
-- different page each: a commit of 8 pings wrote ~20 pages instead of ~10, and the durable part of a ping
-- cost ~1.5x as much. History is read by following the chain (one rowid lookup per row).
--
-- Along a chain `seq` only decreases: readers stop at the first link that breaks this or names another
-- heartbeat, which is where pruning left off. `heartbeat_id` carries no foreign key, whose cascade would
-- scan the table without that index; deleting a heartbeat deletes its chain (store/heartbeats.py).
-- Rows are copied in received order, so every chain is in time order, and then linked.

CREATE TABLE heartbeat_pings_chained (
    seq          INTEGER PRIMARY KEY,                -- arrival order
    id           TEXT NOT NULL,                      -- the wire id: hbp_… or a UUID
    heartbeat_id TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail')),
    received_at  INTEGER NOT NULL,
    ip           TEXT,
    user_agent   TEXT,
    output       TEXT,
    duration_ms  INTEGER,                            -- set on the ping that completed a started run
    paused       INTEGER NOT NULL DEFAULT 0,         -- 1: arrived while paused and changed nothing
    prev_seq     INTEGER                             -- the same heartbeat's previous ping
);
INSERT INTO heartbeat_pings_chained (id, heartbeat_id, kind, received_at, ip, user_agent, output, duration_ms, paused)
SELECT id, heartbeat_id, kind, received_at, ip, user_agent, output, duration_ms, paused
FROM heartbeat_pings WHERE heartbeat_id IN (SELECT id FROM heartbeats) ORDER BY received_at, seq;
DROP TABLE heartbeat_pings;
ALTER TABLE heartbeat_pings_chained RENAME TO heartbeat_pings;
CREATE INDEX heartbeat_pings_by_time ON heartbeat_pings (received_at);

ALTER TABLE heartbeats ADD COLUMN last_ping_seq INTEGER;

UPDATE heartbeat_pings SET prev_seq = linked.prev_seq
FROM (SELECT seq, LAG(seq) OVER (PARTITION BY heartbeat_id ORDER BY seq) AS prev_seq FROM heartbeat_pings) AS linked
WHERE heartbeat_pings.seq = linked.seq AND linked.prev_seq IS NOT NULL;
UPDATE heartbeats SET last_ping_seq = newest.seq
FROM (SELECT heartbeat_id, MAX(seq) AS seq FROM heartbeat_pings GROUP BY heartbeat_id) AS newest
WHERE heartbeats.id = newest.heartbeat_id;
