-- Score rollups, kept in step with the visits inside the same transaction as every change
-- (fieldobs/scores/rollups.py) and recomputable from the visits with `fieldobs scores rebuild`.
-- Periods are the location's local ISO week ('2026-W07', grain 'week') and calendar month
-- ('2026-02', grain 'month'), fixed when the visit was counted: reads never call strftime.

-- The visits that count right now (a released mystery shop; a submitted or released
-- walk-through) and the periods they were filed under, so they are taken out of the same ones.
CREATE TABLE score_visits (
    visit_id    TEXT PRIMARY KEY,
    location_id INTEGER NOT NULL,
    observer_id INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    week        TEXT NOT NULL,
    month       TEXT NOT NULL,
    score       REAL                 -- NULL when nothing applicable was answered
) WITHOUT ROWID;
CREATE INDEX score_visits_cell ON score_visits(kind, location_id, month, observer_id, score);

-- Visit scores per location, kind and period: count, sum and sum of squares.
CREATE TABLE score_rollups (
    location_id INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    grain       TEXT NOT NULL CHECK (grain IN ('week', 'month')),
    period      TEXT NOT NULL,
    n           INTEGER NOT NULL,
    total       REAL NOT NULL,
    total_sq    REAL NOT NULL,
    PRIMARY KEY (location_id, kind, grain, period)
) WITHOUT ROWID;
-- Rankings read every location of one period.
CREATE INDEX score_rollups_period ON score_rollups(kind, grain, period, n, total, total_sq);

-- Section scores likewise (sections without an applicable item are left out).
CREATE TABLE section_rollups (
    location_id INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    grain       TEXT NOT NULL CHECK (grain IN ('week', 'month')),
    period      TEXT NOT NULL,
    section_id  TEXT NOT NULL,
    n           INTEGER NOT NULL,
    total       REAL NOT NULL,
    total_sq    REAL NOT NULL,
    PRIMARY KEY (location_id, kind, grain, period, section_id)
) WITHOUT ROWID;

-- Checklist items per location, kind and month, over the visits where the item applied:
-- n visits, item points earned and possible, `short` visits where it lost points, and
-- `cost`: the visit-score points it cost (a failed critical item carries the whole loss of
-- the section it zeroed). Sums of cost over items give 100 - the visit score.
CREATE TABLE item_rollups (
    location_id INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    month       TEXT NOT NULL,
    item_id     TEXT NOT NULL,
    section_id  TEXT NOT NULL,
    n           INTEGER NOT NULL,
    earned      REAL NOT NULL,
    possible    REAL NOT NULL,
    short       INTEGER NOT NULL,
    cost        REAL NOT NULL,
    PRIMARY KEY (location_id, kind, month, item_id)
) WITHOUT ROWID;

-- Rankings read one row per location: for each month (`period`, the last of a six-month
-- window) the window's mystery shops summed for the trend test (a visit in the window's
-- k-th month, oldest k = 0, adds x = k), and the moments of that month and the one before.
CREATE TABLE trend_rollups (
    kind          TEXT NOT NULL,
    period        TEXT NOT NULL,
    location_id   INTEGER NOT NULL,
    count         INTEGER NOT NULL,      -- visits with a score in the window
    periods       INTEGER NOT NULL,      -- months of the window with one
    sx            REAL NOT NULL,         -- sum of x
    sxx           REAL NOT NULL,         -- sum of x^2
    sy            REAL NOT NULL,         -- sum of scores
    sxy           REAL NOT NULL,         -- sum of score x
    syy           REAL NOT NULL,         -- sum of score^2
    last_n        INTEGER NOT NULL,      -- the month itself
    last_total    REAL NOT NULL,
    last_total_sq REAL NOT NULL,
    prev_n        INTEGER NOT NULL,      -- the month before
    prev_total    REAL NOT NULL,
    prev_total_sq REAL NOT NULL,
    PRIMARY KEY (kind, period, location_id)
) WITHOUT ROWID;

-- Bumped in the transaction of every change to the rollups: readers key caches on it.
CREATE TABLE score_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO score_state (id, version) VALUES (1, 0);
