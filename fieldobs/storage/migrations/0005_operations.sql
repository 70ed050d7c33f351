-- Operations: assignments, the review audit, shopper notifications, webhooks and the
-- scheduled jobs' leases and run log. Timestamps are RFC 3339 text in UTC.

-- A mystery shop to be made by one shopper at one location within a window.
CREATE TABLE assignments (
    id             INTEGER PRIMARY KEY,
    shopper_id     INTEGER NOT NULL REFERENCES users(id),
    location_id    INTEGER NOT NULL REFERENCES locations(id),
    checklist_slug TEXT NOT NULL,
    window_start   TEXT NOT NULL,
    window_end     TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'submitted', 'expired', 'cancelled')),
    visit_id       TEXT,                      -- the visit that completed it
    -- A reassigned assignment is cancelled and points at the one that replaced it.
    replaced_by    INTEGER REFERENCES assignments(id),
    created_by     INTEGER REFERENCES users(id),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    submitted_at   TEXT,
    expired_at     TEXT,
    cancelled_at   TEXT,
    reminded_at    TEXT,
    CHECK (window_end > window_start)
);
CREATE INDEX assignments_shopper ON assignments(shopper_id, status, window_end);
CREATE INDEX assignments_location ON assignments(location_id, shopper_id);
CREATE INDEX assignments_due ON assignments(status, window_end);

-- Every review action on a visit: who, when, what, and what they told the shopper.
CREATE TABLE reviews (
    id            INTEGER PRIMARY KEY,
    visit_id      TEXT NOT NULL REFERENCES visits(id),
    revision      INTEGER NOT NULL,           -- the revision the action was taken on
    action        TEXT NOT NULL CHECK (action IN ('release', 'return')),
    reviewer_id   INTEGER NOT NULL REFERENCES users(id),
    note          TEXT,
    item_comments TEXT NOT NULL DEFAULT '{}', -- JSON {item_id: comment}
    status_before TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX reviews_visit ON reviews(visit_id, id);

-- Messages for one user, delivered through their pull feed (there is no e-mail).
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    kind          TEXT NOT NULL,              -- e.g. assignment_closing
    assignment_id INTEGER REFERENCES assignments(id),
    message       TEXT NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL,
    UNIQUE (kind, assignment_id)              -- one reminder per assignment, ever
);
CREATE INDEX notifications_user ON notifications(user_id);

-- An admin's subscription of a URL to events. The secret signs each body (HMAC-SHA256);
-- it must be kept in clear to sign, and is shown only once, at creation.
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,                -- JSON list of event names
    secret      TEXT NOT NULL,
    description TEXT,
    created_by  INTEGER REFERENCES users(id),
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);

-- One event to deliver to one subscription, queued in the transaction that made the event.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks(id),
    event_id        TEXT NOT NULL,            -- UUID; the same event has the same id everywhere
    event           TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    -- What happened, with internal ids (e.g. observer_id): rendered into `body` with
    -- pseudonyms at the first attempt, and never shown.
    payload         TEXT NOT NULL,
    body            TEXT,                     -- the exact bytes sent and signed, once rendered
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);

-- Every HTTP attempt of a delivery.
CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY,
    delivery_id  INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    attempt      INTEGER NOT NULL,
    started_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    status_code  INTEGER,                     -- NULL when no HTTP answer came
    error        TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed'))
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);

-- One row per scheduled job: who runs it now (lease) and the last tick it ran for, so a job
-- runs once per tick however many processes run the scheduler.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    owner      TEXT,                          -- NULL when nobody holds the lease
    expires_at TEXT,
    last_tick  INTEGER
) WITHOUT ROWID;

-- The run log of scheduled jobs.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    tick        INTEGER,                      -- NULL for a run started by hand
    owner       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT CHECK (outcome IN ('ok', 'error')),
    result      TEXT,
    error       TEXT
);
CREATE INDEX job_runs_job ON job_runs(job, started_at);
