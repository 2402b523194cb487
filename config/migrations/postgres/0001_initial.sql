-- The whole tagwire schema for PostgreSQL, equal in meaning to the SQLite schema after its
-- migrations 0001 to 0007 (config/migrations/sqlite/). Times are milliseconds since the
-- epoch (BIGINT), as there. Text that is sorted or compared as an identifier uses the "C"
-- collation, so lists come back in the same byte order as from SQLite whatever the
-- database's locale.

-- Outbox: every request a tag queued for a platform, from enqueue to its final outcome.
CREATE TABLE outbox (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    container_id    TEXT    COLLATE "C" NOT NULL,
    tag_id          TEXT    COLLATE "C" NOT NULL,
    destination     TEXT    NOT NULL,
    method          TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    headers         BYTEA   NOT NULL,
    body            BYTEA   NOT NULL,
    event_name      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    dedup_key       TEXT,
    platform        TEXT    NOT NULL,
    event_time_ms   BIGINT  NOT NULL,
    lead_id         TEXT,
    value           DOUBLE PRECISION,
    currency        TEXT,
    state           TEXT    COLLATE "C" NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'inflight', 'sent', 'failed', 'dead', 'held')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_status     INTEGER,
    last_response   TEXT,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT,
    -- The preview session that sent the row for real; NULL for live traffic.
    preview_session TEXT,
    -- PostgreSQL only: the node key (config/postgres/liveness.py) of the node that claimed
    -- the row, so that a starting node releases only the inflight rows of nodes gone.
    claimed_by      BIGINT
);

-- The sender's claim query: due rows in order.
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);

-- The tag retrier's claim of failed tag runs (method 'RUN', config.storage.records).
CREATE INDEX outbox_runs_due ON outbox (next_attempt_at, id)
    WHERE method = 'RUN' AND state IN ('pending', 'failed');

-- Operator filters (status, replay, purge, history): per container and tag over time, over
-- time alone, and by lead; the history pages one container's rows newest first.
CREATE INDEX outbox_container_tag ON outbox (container_id, tag_id, created_at);

CREATE INDEX outbox_created ON outbox (created_at);

CREATE INDEX outbox_lead ON outbox (lead_id) WHERE lead_id IS NOT NULL;

CREATE INDEX outbox_container_id ON outbox (container_id, id);

-- Fire once: a tag sends one request per dedup key (event id, transaction id or lead id)
-- until the key expires; keys outlive their rows.
CREATE TABLE fire_once (
    container_id TEXT   NOT NULL,
    tag_id       TEXT   NOT NULL,
    dedup_key    TEXT   NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (container_id, tag_id, dedup_key)
);

CREATE INDEX fire_once_expiry ON fire_once (expires_at);

-- Firing history: one row per send attempt ('ran': a failed tag run ran again).
CREATE TABLE attempts (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   BIGINT  NOT NULL,
    attempt     INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    status      INTEGER,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('sent', 'failed', 'dead', 'ran')),
    response    TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    batch_size  INTEGER NOT NULL DEFAULT 1
);

CREATE INDEX attempts_outbox ON attempts (outbox_id, attempt);

CREATE INDEX attempts_at ON attempts (at);

-- Fire API tokens: only a hash of each token is stored. A name is unique per container
-- among live tokens, so a revoked name can be reused.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    container_id TEXT   COLLATE "C" NOT NULL,
    name         TEXT   COLLATE "C" NOT NULL,
    token_hash   TEXT   NOT NULL CONSTRAINT api_tokens_token_hash UNIQUE,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (container_id, name)
    WHERE revoked_at IS NULL;

-- The Fire API's answers per Idempotency-Key, replayed to a retry of the same request.
CREATE TABLE idempotency (
    container_id TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    body         BYTEA   NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (container_id, key)
);

CREATE INDEX idempotency_created ON idempotency (created_at);

-- The draft: JSON bytes of a validated container document, as its author wrote it.
CREATE TABLE workspaces (
    container_id  TEXT   COLLATE "C" PRIMARY KEY,
    document      BYTEA  NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    updated_by    TEXT   NOT NULL
);

-- Versions are never updated or deleted; archiving only sets `archived_at_ms`, once. A
-- parent was created before its child, so it has a lower number.
CREATE TABLE versions (
    container_id   TEXT    COLLATE "C" NOT NULL,
    number         INTEGER NOT NULL CHECK (number >= 1),
    parent         INTEGER CHECK (parent IS NULL OR (parent >= 1 AND parent < number)),
    author         TEXT    NOT NULL,
    note           TEXT    NOT NULL,
    created_at_ms  BIGINT  NOT NULL,
    body           BYTEA   NOT NULL,
    signature      TEXT    NOT NULL CHECK (signature <> ''),
    key_id         TEXT    NOT NULL CHECK (key_id <> ''),
    archived_at_ms BIGINT  CHECK (archived_at_ms IS NULL OR archived_at_ms >= created_at_ms),
    PRIMARY KEY (container_id, number)
);

-- An environment points at one version of its container; the store checks in code that
-- the version exists and is not archived, as the SQLite store does.
CREATE TABLE environments (
    container_id  TEXT    COLLATE "C" NOT NULL,
    name          TEXT    COLLATE "C" NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
    version       INTEGER NOT NULL,
    updated_at_ms BIGINT  NOT NULL,
    updated_by    TEXT    NOT NULL,
    PRIMARY KEY (container_id, name)
);

-- Archiving asks which environments point at a version.
CREATE INDEX environments_version ON environments (container_id, version);

-- Who did what, newest last by id; `detail` is a JSON object that never holds a secret's
-- value or ciphertext. JSON, not JSONB: the log is only appended to and read back whole,
-- and JSON keeps each object's keys in the order they were written, as SQLite does.
CREATE TABLE audit (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms        BIGINT NOT NULL,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    container_id TEXT,
    detail       JSON   NOT NULL CHECK (json_typeof(detail) = 'object')
);

CREATE INDEX audit_container ON audit (container_id, id);

-- Secrets sealed with AES-256-GCM: a 12-byte nonce and the ciphertext with its 16-byte tag.
CREATE TABLE secrets (
    container_id  TEXT   COLLATE "C" NOT NULL,
    name          TEXT   COLLATE "C" NOT NULL,
    nonce         BYTEA  NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext    BYTEA  NOT NULL CHECK (octet_length(ciphertext) >= 16),
    key_id        TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    updated_by    TEXT   NOT NULL,
    PRIMARY KEY (container_id, name)
);

-- Random keys a node keeps with its data, created on first use.
CREATE TABLE node_keys (
    name  TEXT  PRIMARY KEY,
    value BYTEA NOT NULL CHECK (octet_length(value) = 32)
);

-- A person who signs in. `email_key` is the email lower-cased (in Python), so an email is
-- unique and found whatever its case. `locked_until` is 0 when the user is not locked out.
CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         TEXT    NOT NULL CHECK (email <> ''),
    email_key     TEXT    COLLATE "C" NOT NULL CONSTRAINT users_email_key UNIQUE,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL CHECK (password_hash <> ''),
    agency_admin  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  BIGINT  NOT NULL DEFAULT 0
);

-- One of the agency's clients, the unit of access; its id is chosen by the operator.
CREATE TABLE clients (
    id         TEXT   COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    name       TEXT   COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

-- A user's one role on a client (config.storage.records.ROLES).
CREATE TABLE memberships (
    user_id   BIGINT NOT NULL,
    client_id TEXT   COLLATE "C" NOT NULL,
    role      TEXT   NOT NULL CHECK (role IN ('viewer', 'editor', 'publisher', 'owner')),
    PRIMARY KEY (user_id, client_id)
);

CREATE INDEX memberships_client ON memberships (client_id);

-- A container belongs to one client at most; assigning it again moves it.
CREATE TABLE container_clients (
    container_id TEXT COLLATE "C" PRIMARY KEY,
    client_id    TEXT COLLATE "C" NOT NULL
);

CREATE INDEX container_clients_client ON container_clients (client_id);

-- A signed-in browser, stored by the SHA-256 of its cookie value, with its CSRF token.
CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- One-time password reset links, stored by the hash of their token; `used_at` is set once.
CREATE TABLE password_resets (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Preview sessions: a container's workspace (or a version) run for the browsers that carry
-- the session's signed cookie. `document` is the previewed container document as JSON;
-- `revision` grows when the session is pointed at a newer workspace.
CREATE TABLE preview_sessions (
    id           TEXT    COLLATE "C" PRIMARY KEY,
    container_id TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    document     BYTEA   NOT NULL,
    revision     INTEGER NOT NULL DEFAULT 1,
    mode         TEXT    NOT NULL CHECK (mode IN ('dry_run', 'test', 'live')),
    test_code    TEXT,
    created_by   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    revoked_at   BIGINT
);

CREATE INDEX preview_sessions_container ON preview_sessions (container_id, created_at);

CREATE INDEX preview_sessions_expiry ON preview_sessions (expires_at);

-- What each preview hit did, kept for a bounded time and count per session; `body` is
-- the trace as JSON (PII masked before it is stored).
CREATE TABLE preview_traces (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    event_name TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    body       BYTEA  NOT NULL
);

CREATE INDEX preview_traces_session ON preview_traces (session_id, id);

CREATE INDEX preview_traces_at ON preview_traces (at);
