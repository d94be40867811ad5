-- Watch history: where each viewer is in each title (watch_progress, one row
-- per user and title, upserted by PUT progress and by playback itself), the
-- append-only watch_events partitioned by month, and the daily aggregates
-- that trending, statistics and analytics read instead of raw events.

CREATE TABLE watch_progress (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id BIGINT UNSIGNED NOT NULL,
  content_id BIGINT UNSIGNED NOT NULL,
  watched_seconds INT UNSIGNED NOT NULL,
  total_seconds INT UNSIGNED NOT NULL,
  status ENUM('started','paused','completed') NOT NULL,
  -- when the title was last finished (reached 90 %); NULL if never
  completed_at DATETIME(3) NULL,
  device_id VARCHAR(128) COLLATE utf8mb4_bin NULL,
  session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
  quality TINYINT UNSIGNED NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ux_wp_user_content (user_id, content_id),
  KEY ix_wp_user_recent (user_id, updated_at),
  KEY ix_wp_content (content_id),
  CONSTRAINT fk_wp_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_wp_content FOREIGN KEY (content_id) REFERENCES content (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- watch_events becomes RANGE-partitioned by month (its primary key already
-- holds created_at). Rows before this month stay in p_before; the worker
-- job "partitions" splits pmax into months ahead and archives old ones.
SET @sp_month = DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-01');
SET @sp_sql = CONCAT('ALTER TABLE watch_events PARTITION BY RANGE COLUMNS(created_at) (',
  'PARTITION p_before VALUES LESS THAN (''', @sp_month, '''), ',
  'PARTITION pmax VALUES LESS THAN (MAXVALUE))');
PREPARE sp_stmt FROM @sp_sql;
EXECUTE sp_stmt;
DEALLOCATE PREPARE sp_stmt;

-- Archived partitions live in ARCHIVE-engine tables, one per month
-- (watch_archive_YYYYMM); this view is rebuilt by the job over all of them.
CREATE OR REPLACE VIEW watch_events_archive AS
  SELECT id, user_id, content_id, event, position_seconds, created_at
  FROM watch_events WHERE 0 = 1;
CREATE OR REPLACE VIEW watch_events_all AS
  SELECT id, user_id, content_id, event, position_seconds, created_at FROM watch_events
  UNION ALL
  SELECT id, user_id, content_id, event, position_seconds, created_at FROM watch_events_archive;

-- Daily aggregates, recomputed whole for a day by the job "aggregate".
CREATE TABLE watch_daily_content (
  day DATE NOT NULL,
  content_id BIGINT UNSIGNED NOT NULL,
  views INT UNSIGNED NOT NULL,
  unique_viewers INT UNSIGNED NOT NULL,
  watch_seconds BIGINT UNSIGNED NOT NULL,
  completions INT UNSIGNED NOT NULL,
  -- completions per unique viewer, 0..1
  completion_rate DECIMAL(5,4) NOT NULL,
  PRIMARY KEY (day, content_id),
  KEY ix_wdc_content (content_id, day)
) ENGINE=InnoDB;

CREATE TABLE watch_daily_users (
  day DATE NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  watch_seconds BIGINT UNSIGNED NOT NULL,
  titles INT UNSIGNED NOT NULL,
  completions INT UNSIGNED NOT NULL,
  PRIMARY KEY (day, user_id),
  KEY ix_wdu_user (user_id, day)
) ENGINE=InnoDB;

-- One row per aggregated day: when, from how many events.
CREATE TABLE watch_aggregate_days (
  day DATE NOT NULL,
  events BIGINT UNSIGNED NOT NULL,
  computed_at DATETIME(3) NOT NULL,
  PRIMARY KEY (day)
) ENGINE=InnoDB;
