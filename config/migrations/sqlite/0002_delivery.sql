-- Durable delivery: what the sender batches on, the held state, firing history, fire-once
-- keys with a TTL, Fire API tokens and Idempotency-Key answers.

-- SQLite cannot change a CHECK constraint: the outbox is rebuilt with the new columns and
-- the `held` state, keeping every row and its id.
CREATE TABLE outbox_new (
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
    platform        TEXT    NOT NULL,
    event_time_ms   INTEGER NOT NULL,
    lead_id         TEXT,
    value           REAL,
    currency        TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'inflight', 'sent', 'failed', 'dead', 'held')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_response   TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);

-- Rows queued before this migration: the platform is known from the shipped templates'
-- API hosts (empty for anything else), the event time is taken to be the queue time, and
-- a lead id is known when it was the fire-once key of a tag's first request.
INSERT INTO outbox_new (id, container_id, tag_id, destination, method, url, headers, body,
                        event_name, event_id, dedup_key, platform, event_time_ms, lead_id,
                        state, attempts, next_attempt_at, last_status, last_response,
                        created_at, sent_at)
SELECT id, container_id, tag_id, destination, method, url, headers, body,
       event_name, event_id, dedup_key,
       CASE destination
           WHEN 'graph.facebook.com' THEN 'meta'
           WHEN 'business-api.tiktok.com' THEN 'tiktok'
           WHEN 'api.linkedin.com' THEN 'linkedin'
           WHEN 'googleads.googleapis.com' THEN 'google_ads'
           WHEN 'www.google-analytics.com' THEN 'ga4'
           WHEN 'region1.google-analytics.com' THEN 'ga4'
           ELSE ''
       END,
       created_at,
       CASE WHEN dedup_key LIKE 'lead_id:%' AND instr(dedup_key, '#') = 0
            THEN substr(dedup_key, 9) END,
       state, attempts, next_attempt_at, last_status, last_response, created_at, sent_at
FROM outbox
ORDER BY id;

-- Ids are never reused: the new table continues the old sequence, even when the newest
-- rows had been deleted.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'outbox_new', seq FROM sqlite_sequence
WHERE name = 'outbox'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox_new');

UPDATE sqlite_sequence
SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'outbox'))
WHERE name = 'outbox_new'
  AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox');

-- Fire-once keys move to their own table, where they expire: the outbox's unique index
-- goes with the old table. A key carried over lives the default 72 hours from its row's
-- queue time.
CREATE TABLE fire_once (
    container_id TEXT    NOT NULL,
    tag_id       TEXT    NOT NULL,
    dedup_key    TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (container_id, tag_id, dedup_key)
) WITHOUT ROWID;

INSERT INTO fire_once (container_id, tag_id, dedup_key, expires_at)
SELECT container_id, tag_id, dedup_key, created_at + 72 * 3600000
FROM outbox
WHERE dedup_key IS NOT NULL;

CREATE INDEX fire_once_expiry ON fire_once (expires_at);

-- Firing history: one row per send attempt. Before this migration only a row's last
-- attempt was kept, so that one is carried over.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('sent', 'failed', 'dead')),
    response    TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    batch_size  INTEGER NOT NULL DEFAULT 1
);

INSERT INTO attempts (outbox_id, attempt, at, status, outcome, response)
SELECT id, attempts,
       CASE state WHEN 'sent' THEN sent_at WHEN 'dead' THEN next_attempt_at ELSE created_at END,
       last_status,
       CASE WHEN state IN ('sent', 'dead') THEN state ELSE 'failed' END,
       COALESCE(last_response, '')
FROM outbox
WHERE attempts > 0
ORDER BY id;

DROP TABLE outbox;

ALTER TABLE outbox_new RENAME TO outbox;

-- The sender's claim query: due rows in order.
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);

-- Operator filters (status, replay, purge, history): per container and tag over time, over
-- time alone, and by lead.
CREATE INDEX outbox_container_tag ON outbox (container_id, tag_id, created_at);

CREATE INDEX outbox_created ON outbox (created_at);

CREATE INDEX outbox_lead ON outbox (lead_id) WHERE lead_id IS NOT NULL;

CREATE INDEX attempts_outbox ON attempts (outbox_id, attempt);

CREATE INDEX attempts_at ON attempts (at);

-- Fire API tokens: only a hash of each token is stored. A name is unique per container
-- among live tokens, so a revoked name can be reused.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    container_id TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (container_id, name)
WHERE revoked_at IS NULL;

-- The Fire API's answers per Idempotency-Key, replayed to a retry of the same request.
CREATE TABLE idempotency (
    container_id TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (container_id, key)
) WITHOUT ROWID;

CREATE INDEX idempotency_created ON idempotency (created_at);
