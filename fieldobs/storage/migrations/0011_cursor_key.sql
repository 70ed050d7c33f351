-- The key that seals list and pull cursors (fieldobs/storage/paging.py): random, kept by the
-- server and never sent, so a client can neither read a cursor (it holds exact times) nor
-- forge one. A restored backup keeps its key, so the cursors it made stay valid.
INSERT INTO server_meta (key, value) VALUES ('cursor_key', lower(hex(randomblob(32))));
