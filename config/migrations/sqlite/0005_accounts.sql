-- The admin UI's accounts: people who sign in, the agency's clients, each person's role on
-- a client, which client a container belongs to, signed-in browsers and one-time password
-- reset links. Operator changes to these are audited in the `audit` table; sessions and
-- sign-in counters are not. As elsewhere, SQLite's foreign keys are off per connection, so
-- the store checks in code that a user or client exists before it is referred to.

-- A person who signs in. `email` is kept as given; `email_key` is it lower-cased, so an
-- email is unique and found whatever its case. `password_hash` is the self-describing hash
-- string, never the password. `locked_until` is 0 when the user is not locked out.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL CHECK (email <> ''),
    email_key     TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL CHECK (password_hash <> ''),
    agency_admin  INTEGER NOT NULL DEFAULT 0 CHECK (agency_admin IN (0, 1)),
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until  INTEGER NOT NULL DEFAULT 0
);

-- One of the agency's clients, the unit of access; its id is chosen by the operator.
CREATE TABLE clients (
    id         TEXT    PRIMARY KEY CHECK (id <> ''),
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A user's one role on a client, weakest first: viewer < editor < publisher < owner
-- (config.storage.records.ROLES).
CREATE TABLE memberships (
    user_id   INTEGER NOT NULL,
    client_id TEXT    NOT NULL,
    role      TEXT    NOT NULL CHECK (role IN ('viewer', 'editor', 'publisher', 'owner')),
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

-- A client's members are listed by client.
CREATE INDEX memberships_client ON memberships (client_id);

-- A container belongs to one client at most; assigning it again moves it.
CREATE TABLE container_clients (
    container_id TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL
) WITHOUT ROWID;

-- A client's containers are listed by client.
CREATE INDEX container_clients_client ON container_clients (client_id);

-- A signed-in browser, stored by the SHA-256 of its cookie value (never the cookie), with
-- the CSRF token its forms must carry.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) WITHOUT ROWID;

-- Signing a user out everywhere, and expiring idle sessions.
CREATE INDEX sessions_user ON sessions (user_id);

CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- One-time password reset links, stored by the hash of their token; `used_at` is set once,
-- when the link is spent.
CREATE TABLE password_resets (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
