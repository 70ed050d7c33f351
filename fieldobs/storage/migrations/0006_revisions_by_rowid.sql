-- Store visit revisions in a rowid table. As a WITHOUT ROWID table keyed by the phone's random
-- UUID, every revision (the whole visit body, about 1 kB) landed in the middle of the b-tree:
-- pages split and stayed half full, about 5 kB of file per revision, all of it written through
-- the WAL. SQLite advises WITHOUT ROWID only for rows under about 1/20 of a page
-- (https://www.sqlite.org/withoutrowid.html, section 4). Now bodies are appended in arrival
-- order, and only the small (visit_id, revision) key goes into a random place.
CREATE TABLE visit_revisions_new (
    visit_id    TEXT NOT NULL REFERENCES visits(id),
    revision    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (visit_id, revision)
);

INSERT INTO visit_revisions_new (visit_id, revision, fingerprint, body, received_at)
SELECT visit_id, revision, fingerprint, body, received_at FROM visit_revisions
ORDER BY received_at, visit_id, revision;

DROP TABLE visit_revisions;
ALTER TABLE visit_revisions_new RENAME TO visit_revisions;
