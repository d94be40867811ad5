-- Parental controls.
--
-- * content.min_age: the minimum viewer age of a title, derived from its
--   age_rating by MariaDB itself (a stored generated column), so every admin
--   write keeps it right and listings filter with "c.min_age <= ?" in SQL,
--   exactly like the level. G, TV-Y, TV-G 0; TV-Y7 7; PG, TV-PG 10; PG-13 13;
--   TV-14 14; R, TV-MA 17; NC-17 18; an unknown rating (or none) 18.
-- * parental_controls: one row per user who ever set a PIN. The PIN is a
--   bcrypt hash; the wrong-PIN count and the lock live here and are changed
--   only under the user's row lock (users, SELECT ... FOR UPDATE), so
--   concurrent guesses are counted exactly and a Redis outage resets nothing.

ALTER TABLE content
  ADD COLUMN min_age TINYINT UNSIGNED AS (CASE UPPER(age_rating)
      WHEN 'G' THEN 0 WHEN 'TV-Y' THEN 0 WHEN 'TV-G' THEN 0
      WHEN 'TV-Y7' THEN 7
      WHEN 'PG' THEN 10 WHEN 'TV-PG' THEN 10
      WHEN 'PG-13' THEN 13
      WHEN 'TV-14' THEN 14
      WHEN 'R' THEN 17 WHEN 'TV-MA' THEN 17
      ELSE 18 END) STORED,
  ADD KEY ix_content_min_age (is_active, min_age);

CREATE TABLE parental_controls (
  user_id BIGINT UNSIGNED NOT NULL,
  enabled TINYINT(1) NOT NULL DEFAULT 0,
  max_age TINYINT UNSIGNED NOT NULL DEFAULT 18,
  pin_hash VARCHAR(64) CHARACTER SET ascii NOT NULL,
  -- wrong PINs since window_start (the first of them); locked_until when
  -- the count reached the limit within the window
  pin_failures INT UNSIGNED NOT NULL DEFAULT 0,
  pin_window_start DATETIME(3) NULL,
  pin_locked_until DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id),
  CONSTRAINT fk_pc_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT ck_pc_age CHECK (max_age IN (0, 7, 10, 13, 14, 17, 18))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
