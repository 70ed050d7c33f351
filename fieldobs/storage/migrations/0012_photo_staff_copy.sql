-- The lossless JPEG path keeps the camera's quantisation tables (DQT), which can tell the phone
-- model apart: store staff (managers, area leads) are served a re-encoded copy instead, made on
-- their first look and kept here. `lossless` marks the copies that need one; JPEGs recorded
-- before this migration are marked as if they did (an extra copy is harmless, a fingerprint is
-- not).
ALTER TABLE photos ADD COLUMN lossless INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN staff_sha256 TEXT;  -- content address of the re-encoded copy
UPDATE photos SET lossless = 1 WHERE state = 'received' AND source_format IN ('JPEG', 'MPO');
CREATE INDEX photos_staff ON photos(staff_sha256);
