-- Areas, locations, people, tokens, published checklists and the change sequence.
-- Timestamps are RFC 3339 text in UTC.

CREATE TABLE areas (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE locations (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    area_id      INTEGER NOT NULL REFERENCES areas(id),
    timezone     TEXT NOT NULL,
    address      TEXT,
    -- The spreadsheet's own id for the store, so a re-import updates instead of duplicating.
    external_ref TEXT UNIQUE,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX locations_area ON locations(area_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('shopper', 'manager', 'area_lead', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    disabled_at   TEXT
);

CREATE TABLE user_locations (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    location_id INTEGER NOT NULL REFERENCES locations(id),
    PRIMARY KEY (user_id, location_id)
) WITHOUT ROWID;

CREATE TABLE user_areas (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    area_id INTEGER NOT NULL REFERENCES areas(id),
    PRIMARY KEY (user_id, area_id)
) WITHOUT ROWID;

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Only the SHA-256 of the token is kept: a copied database yields no usable token.
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX tokens_user ON tokens(user_id);

CREATE TABLE checklist_versions (
    slug         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('mystery_shop', 'walkthrough')),
    content_hash TEXT NOT NULL,
    definition   TEXT NOT NULL,
    source_file  TEXT,
    published_at TEXT NOT NULL,
    PRIMARY KEY (slug, version)
);

-- Published versions are immutable: the database itself refuses edits.
CREATE TRIGGER checklist_versions_immutable BEFORE UPDATE ON checklist_versions
BEGIN
    SELECT RAISE(ABORT, 'published checklist versions are immutable');
END;
CREATE TRIGGER checklist_versions_undeletable BEFORE DELETE ON checklist_versions
BEGIN
    SELECT RAISE(ABORT, 'published checklist versions are immutable');
END;

-- The pull feed: one row per entity in its latest state; seq is bumped in the same
-- transaction as the change it records (AUTOINCREMENT so a seq is never reused).
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    entity     TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    changed_at TEXT NOT NULL,
    UNIQUE (entity, entity_key)
);

-- Facts about this database that outlive restarts (its identity, for foreign cursors).
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO server_meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
