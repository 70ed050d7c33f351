-- Each visit row lists the fingerprint of every revision pushed, so a late retry of an older
-- revision is recognised from the row already read. visit_revisions becomes an append-only log
-- in arrival order, without its (visit_id, revision) key: keyed by the phone's random UUID,
-- that b-tree had a page written (and fsynced through the WAL) for every visit pushed, about
-- a quarter of a batch's writes. Revisions stay unique because each one is checked against
-- the visit row under the write lock before it is logged.
ALTER TABLE visits ADD COLUMN revision_fingerprints TEXT NOT NULL DEFAULT '[]';  -- JSON, by revision

UPDATE visits SET revision_fingerprints = (
    SELECT json_group_array(fingerprint) FROM (
        SELECT fingerprint FROM visit_revisions WHERE visit_id = visits.id ORDER BY revision
    )
);

CREATE TABLE visit_revisions_log (
    visit_id    TEXT NOT NULL REFERENCES visits(id),
    revision    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL
);

INSERT INTO visit_revisions_log (visit_id, revision, fingerprint, body, received_at)
SELECT visit_id, revision, fingerprint, body, received_at FROM visit_revisions
ORDER BY received_at, visit_id, revision;

DROP TABLE visit_revisions;
ALTER TABLE visit_revisions_log RENAME TO visit_revisions;
