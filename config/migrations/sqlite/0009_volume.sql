-- Hits per container, event and minute (minutes since the epoch), summed over every node
-- and worker on this store: the volume spike detector's shared count. Kept for the
-- detector's window and pruned by it.
CREATE TABLE volume (
    container_id TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    minute       INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (container_id, event, minute)
) WITHOUT ROWID;

CREATE INDEX volume_minute ON volume (minute);
