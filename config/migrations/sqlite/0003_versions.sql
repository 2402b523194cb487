-- Versioned, signed container configs: one draft workspace per container, immutable
-- numbered versions, environments pointing at a version, secrets sealed per container, and
-- an audit row for every change (written in the same transaction as the change).

-- The draft: JSON bytes of a validated container document, as its author wrote it.
CREATE TABLE workspaces (
    container_id  TEXT    PRIMARY KEY,
    document      BLOB    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL
) WITHOUT ROWID;

-- Versions are never updated or deleted; archiving only sets `archived_at_ms`, once. A
-- parent was created before its child, so it has a lower number.
CREATE TABLE versions (
    container_id   TEXT    NOT NULL,
    number         INTEGER NOT NULL CHECK (number >= 1),
    parent         INTEGER CHECK (parent IS NULL OR (parent >= 1 AND parent < number)),
    author         TEXT    NOT NULL,
    note           TEXT    NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    body           BLOB    NOT NULL,
    signature      TEXT    NOT NULL CHECK (signature <> ''),
    key_id         TEXT    NOT NULL CHECK (key_id <> ''),
    archived_at_ms INTEGER CHECK (archived_at_ms IS NULL OR archived_at_ms >= created_at_ms),
    PRIMARY KEY (container_id, number)
) WITHOUT ROWID;

-- An environment points at one version of its container; the store checks in code that
-- the version exists and is not archived (SQLite's foreign keys are off per connection).
CREATE TABLE environments (
    container_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL
                  CHECK (length(name) BETWEEN 1 AND 40 AND name GLOB '[a-z0-9]*'
                         AND name NOT GLOB '*[^a-z0-9-]*'),
    version       INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    PRIMARY KEY (container_id, name)
) WITHOUT ROWID;

-- Archiving asks which environments point at a version.
CREATE INDEX environments_version ON environments (container_id, version);

-- Who did what, newest last by id; `detail` is a JSON object that never holds a secret's
-- value or ciphertext.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms        INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    container_id TEXT,
    detail       TEXT    NOT NULL CHECK (json_valid(detail) AND json_type(detail) = 'object')
);

CREATE INDEX audit_container ON audit (container_id, id);

-- Secrets sealed with AES-256-GCM: a 12-byte nonce and the ciphertext with its 16-byte tag.
CREATE TABLE secrets (
    container_id  TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    nonce         BLOB    NOT NULL CHECK (length(nonce) = 12),
    ciphertext    BLOB    NOT NULL CHECK (length(ciphertext) >= 16),
    key_id        TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    updated_by    TEXT    NOT NULL,
    PRIMARY KEY (container_id, name)
) WITHOUT ROWID;

-- Random keys a node keeps with its data, created on first use: `secret-references` signs
-- the secret references in outbox rows, so that one written by a visitor is not filled in.
CREATE TABLE node_keys (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL CHECK (length(value) = 32)
) WITHOUT ROWID;
