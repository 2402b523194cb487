-- Failed tag runs are outbox rows with method 'RUN' (see config.storage.records): the
-- sender's claim skips them and the tag retrier claims them through this index.
CREATE INDEX outbox_runs_due ON outbox (next_attempt_at, id)
    WHERE method = 'RUN' AND state IN ('pending', 'failed');

-- A history entry can now say the template ran again ('ran') and queued the row's
-- requests. SQLite cannot change a CHECK constraint: the table is rebuilt, keeping ids.
CREATE TABLE attempts_new (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('sent', 'failed', 'dead', 'ran')),
    response    TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    batch_size  INTEGER NOT NULL DEFAULT 1
);
INSERT INTO attempts_new (id, outbox_id, attempt, at, status, outcome, response, duration_ms,
                          batch_size)
SELECT id, outbox_id, attempt, at, status, outcome, response, duration_ms, batch_size
FROM attempts;
DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;
CREATE INDEX attempts_outbox ON attempts (outbox_id, attempt);
CREATE INDEX attempts_at ON attempts (at);
