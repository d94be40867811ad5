-- Offline downloads: how many licences a plan allows, and the licences.
--
-- * plans.max_downloads: live licences a subscriber may hold at once; a plan
--   allows downloads only when download_allowed = 1 and max_downloads > 0.
-- * download_licences: one row per licence (one device, one title). A
--   licence is live while revoked_at IS NULL AND expires_at > now; the same
--   device downloading the same title again renews the live row (same id,
--   new expires_at). Admission counts the live rows under the user's row
--   lock (users FOR UPDATE), so the limit is exact. Redis holds only a copy
--   of each live licence (dl:<id>) for the media authorizer.

ALTER TABLE plans
  ADD COLUMN max_downloads INT UNSIGNED NOT NULL DEFAULT 0 AFTER download_allowed,
  ADD CONSTRAINT ck_plans_downloads CHECK (max_downloads <= 1000);

UPDATE plans SET max_downloads = 0 WHERE name IN ('Free', 'Basic');
UPDATE plans SET max_downloads = 10 WHERE name = 'Premium';
UPDATE plans SET max_downloads = 25 WHERE name = 'Ultimate';

CREATE TABLE download_licences (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id BIGINT UNSIGNED NOT NULL,
  content_id BIGINT UNSIGNED NOT NULL,
  device_id VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,
  quality TINYINT UNSIGNED NOT NULL,
  created_at DATETIME(3) NOT NULL,
  renewed_at DATETIME(3) NULL,
  expires_at DATETIME(3) NOT NULL,
  revoked_at DATETIME(3) NULL,
  revoke_reason VARCHAR(32) CHARACTER SET ascii NULL,
  PRIMARY KEY (id),
  KEY ix_dl_user_live (user_id, revoked_at, expires_at),
  KEY ix_dl_revoked (revoked_at, expires_at),
  CONSTRAINT fk_dl_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT ck_dl_quality CHECK (quality <= 3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
