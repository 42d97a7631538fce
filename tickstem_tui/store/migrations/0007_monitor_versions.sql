-- A version per monitor row, raised by every change: the poller keeps each monitor as its last check left
-- it and records the next check compare-and-set on the version, reading the row again only when it was
-- changed meanwhile (an edit, a pause, another process). The trigger raises it for writers that do not.

ALTER TABLE monitors ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER monitors_version AFTER UPDATE ON monitors
WHEN NEW.version = OLD.version
BEGIN
    UPDATE monitors SET version = OLD.version + 1 WHERE id = OLD.id;
END;
