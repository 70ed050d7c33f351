-- Visits pushed from phones, every revision they went through, their photo manifests,
-- and the photos themselves (which may arrive before the visit that names them).

CREATE TABLE visits (
    id                TEXT PRIMARY KEY,          -- the phone's UUID, lowercase
    revision          INTEGER NOT NULL,
    fingerprint       TEXT NOT NULL,             -- sha256 of the canonical content
    observer_id       INTEGER NOT NULL REFERENCES users(id),
    location_id       INTEGER NOT NULL REFERENCES locations(id),
    assignment_id     INTEGER,
    checklist_slug    TEXT NOT NULL,
    checklist_version INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('mystery_shop', 'walkthrough')),
    status            TEXT NOT NULL
                      CHECK (status IN ('awaiting_photos', 'submitted', 'released', 'returned')),
    started_at        TEXT NOT NULL,             -- device time, as sent
    finished_at       TEXT NOT NULL,             -- device time, as sent
    -- When the visit happened, in UTC: the device's finish time unless its clock was
    -- flagged, then the server's receipt time. Periods are computed from this.
    observed_at       TEXT NOT NULL,
    received_at       TEXT NOT NULL,             -- server time of the first revision
    updated_at        TEXT NOT NULL,             -- server time of the latest change
    clock_skew_seconds REAL,                     -- device finish time minus server receipt
    flags             TEXT NOT NULL DEFAULT '[]',
    body              TEXT NOT NULL,             -- canonical JSON of the latest revision
    score             REAL,
    section_scores    TEXT NOT NULL,             -- JSON [{id, score}]
    breakdown         TEXT NOT NULL,             -- JSON: the scoring engine's explanation
    submitted_at      TEXT,
    released_at       TEXT
);
CREATE INDEX visits_location_observed ON visits(location_id, observed_at);
CREATE INDEX visits_observer ON visits(observer_id, received_at);
CREATE INDEX visits_status ON visits(status, updated_at);
CREATE INDEX visits_received ON visits(received_at, id);

CREATE TABLE visit_revisions (
    visit_id    TEXT NOT NULL REFERENCES visits(id),
    revision    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (visit_id, revision)
) WITHOUT ROWID;

-- The photo manifest of the visit's latest revision.
CREATE TABLE visit_photos (
    visit_id     TEXT NOT NULL REFERENCES visits(id),
    photo_id     TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    item         TEXT,
    PRIMARY KEY (visit_id, photo_id)
) WITHOUT ROWID;
CREATE INDEX visit_photos_photo ON visit_photos(photo_id);

-- A completed upload. The first bytes received for a photo id are kept.
CREATE TABLE photos (
    id           TEXT PRIMARY KEY,               -- the phone's UUID, lowercase
    visit_id     TEXT NOT NULL,                  -- as the uploader declared it
    uploader_id  INTEGER NOT NULL REFERENCES users(id),
    sha256       TEXT NOT NULL,                  -- of the bytes as uploaded
    size         INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('received', 'rejected')),
    reason       TEXT,
    content_type TEXT,                           -- of the sanitised copy
    image_sha256 TEXT,                           -- content address of the sanitised copy
    thumb_sha256 TEXT,
    width        INTEGER,
    height       INTEGER,
    captured_at  TEXT,
    received_at  TEXT NOT NULL
);
CREATE INDEX photos_visit ON photos(visit_id);
