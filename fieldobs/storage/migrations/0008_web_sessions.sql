-- Console sign-in: server-side sessions. The cookie holds a random id; only its SHA-256 is kept,
-- so a copied database yields no usable session.
CREATE TABLE web_sessions (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_hash  TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
