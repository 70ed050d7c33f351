-- Operations: the scenario an assignment asks its shopper to play, and who a webhook speaks to.

-- What the shopper asks, buys or raises on the visit; shown to them (and admins) only.
ALTER TABLE assignments ADD COLUMN scenario TEXT NOT NULL DEFAULT '';

-- Who a webhook speaks to (fieldobs/operations/webhook_bodies.py): 'client', a store's system,
-- is told no more than a store manager could see; 'agency' gets the admin view.
ALTER TABLE webhooks ADD COLUMN audience TEXT NOT NULL DEFAULT 'client'
    CHECK (audience IN ('client', 'agency'));
-- Subscriptions made before audiences existed become client ones: they keep only the events
-- a client hears, and what was queued for the others is cancelled.
UPDATE webhooks SET events = (
    SELECT json_group_array(value) FROM json_each(webhooks.events)
    WHERE value IN ('visit.submitted', 'visit.released')
);
UPDATE webhook_deliveries SET status = 'cancelled', last_error = 'not for a client webhook'
    WHERE status = 'pending' AND event NOT IN ('visit.submitted', 'visit.released');
-- An endpoint failing since `failing_since` (no success since) is paused once that lasts
-- WEBHOOK_PAUSE_AFTER_SECONDS: its deliveries are kept, one is tried at `probe_at`, and a
-- success (or an admin's resume) lets them all flow again.
ALTER TABLE webhooks ADD COLUMN failing_since TEXT;
ALTER TABLE webhooks ADD COLUMN paused_at TEXT;
ALTER TABLE webhooks ADD COLUMN probe_at TEXT;
