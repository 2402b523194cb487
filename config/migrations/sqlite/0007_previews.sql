-- Preview sessions: a container's workspace (or a version) run for the browsers that carry
-- the session's signed cookie. `document` is the previewed container document as JSON;
-- `revision` grows when the session is pointed at a newer workspace.
CREATE TABLE preview_sessions (
    id TEXT PRIMARY KEY,
    container_id TEXT NOT NULL,
    source TEXT NOT NULL,
    document BLOB NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    mode TEXT NOT NULL CHECK (mode IN ('dry_run', 'test', 'live')),
    test_code TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE INDEX preview_sessions_container ON preview_sessions (container_id, created_at);

CREATE INDEX preview_sessions_expiry ON preview_sessions (expires_at);

-- What each preview hit did, kept for a bounded time and count per session; `body` is
-- the trace as JSON (PII masked before it is stored).
CREATE TABLE preview_traces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    event_name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    body BLOB NOT NULL
);

CREATE INDEX preview_traces_session ON preview_traces (session_id, id);

CREATE INDEX preview_traces_at ON preview_traces (at);

-- Rows a preview session sent for real carry its id, so the history can mark them.
ALTER TABLE outbox ADD COLUMN preview_session TEXT;
