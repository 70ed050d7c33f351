-- Resumable photo uploads (tus) and what the photos table needs for idempotent replies.

-- One tus upload. The bytes live in DATA_DIR/uploads/<id>.part; `received` is the durable
-- offset: the part file is fsynced before it grows, so an upload resumes after a restart.
-- A finished upload is kept until it expires, so a client that lost the last answer can
-- still ask HEAD and get the same reply to a repeated final PATCH.
CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,         -- 128 random bits, hex: the upload URL's last part
    owner_id       INTEGER NOT NULL REFERENCES users(id),
    visit_id       TEXT NOT NULL,            -- as declared in Upload-Metadata, lowercase
    photo_id       TEXT NOT NULL,
    length         INTEGER NOT NULL CHECK (length > 0),
    received       INTEGER NOT NULL DEFAULT 0 CHECK (received BETWEEN 0 AND length),
    metadata       TEXT,                     -- Upload-Metadata as sent; cleared on expiry
    state          TEXT NOT NULL CHECK (state IN ('receiving', 'finished', 'expired')),
    outcome_status INTEGER,                  -- finished: 201/200 kept, else 409/415/422
    outcome_error  TEXT,                     -- finished with a refusal: the error object, JSON
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL             -- last progress + UPLOAD_EXPIRY_HOURS
);
CREATE INDEX uploads_state_expires ON uploads(state, expires_at);
CREATE INDEX uploads_photo ON uploads(photo_id);

ALTER TABLE photos ADD COLUMN reject_status INTEGER;  -- 415 or 422: a replay gets the same
ALTER TABLE photos ADD COLUMN message TEXT;           -- the rejection in words for the shopper
ALTER TABLE photos ADD COLUMN source_format TEXT;     -- the decoder that read it: JPEG, HEIF…

-- The purge job asks whether a blob is still referenced, and which photos are old.
CREATE INDEX photos_image ON photos(image_sha256);
CREATE INDEX photos_thumb ON photos(thumb_sha256);
CREATE INDEX photos_received ON photos(received_at);
