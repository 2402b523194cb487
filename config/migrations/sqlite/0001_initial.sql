-- Outbox: every request a tag queued for a platform, from enqueue to its final outcome.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    container_id    TEXT    NOT NULL,
    tag_id          TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    headers         BLOB    NOT NULL,
    body            BLOB    NOT NULL,
    event_name      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    dedup_key       TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'inflight', 'sent', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_response   TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);

-- Fire once: a tag sends one request per dedup key (event id, transaction id or lead id);
-- NULL keys (fire_once none) never collide.
CREATE UNIQUE INDEX outbox_fire_once ON outbox (container_id, tag_id, dedup_key);

-- The sender's claim query: due rows in order.
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
