-- A version per heartbeat row, raised by every change: pings keep the rows they last wrote in memory and
-- update them compare-and-set on the version, so a row changed meanwhile (an edit, the watchdog, another
-- process) is read again instead of being overwritten. The trigger raises it for writers that do not.

ALTER TABLE heartbeats ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER heartbeats_version AFTER UPDATE ON heartbeats
WHEN NEW.version = OLD.version
BEGIN
    UPDATE heartbeats SET version = OLD.version + 1 WHERE id = OLD.id;
END;
