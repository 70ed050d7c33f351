-- Operations: the scenario an assignment asks its shopper to play, and who a webhook speaks to.

-- What the shopper asks, buys or raises on the visit; shown to them (and admins) only.
ALTER TABLE assignments ADD COLUMN scenario TEXT NOT NULL DEFAULT '';
