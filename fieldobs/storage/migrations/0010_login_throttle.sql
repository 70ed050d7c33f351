-- Failed sign-ins, counted per username and per client address, shared by every worker.
-- A row is forgotten once it has been quiet for the policy's memory (pruned on each failure).
CREATE TABLE login_failures (
    key             TEXT PRIMARY KEY,        -- 'user:<folded username>' or 'addr:<address>'
    failures        INTEGER NOT NULL,
    last_failure_at REAL NOT NULL,           -- Unix seconds
    blocked_until   REAL NOT NULL            -- Unix seconds; no attempt is checked before it
) WITHOUT ROWID;
CREATE INDEX login_failures_last ON login_failures(last_failure_at);
