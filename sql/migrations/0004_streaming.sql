-- Streaming sessions. Redis holds the live set (one sorted set per user,
-- scored by last heartbeat); this table records every start and stop, and
-- carries a heartbeat time refreshed often enough (every quarter of
-- stream.stale_seconds) that the limit can be enforced from here alone
-- while Redis is unreachable.

CREATE TABLE stream_sessions (
  id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  content_id BIGINT UNSIGNED NOT NULL,
  device_id VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,
  device_name VARCHAR(100) NOT NULL,
  device_type VARCHAR(32) NOT NULL DEFAULT 'unknown',
  quality TINYINT UNSIGNED NOT NULL,
  started_at DATETIME(3) NOT NULL,
  last_heartbeat_at DATETIME(3) NOT NULL,
  position_seconds INT UNSIGNED NOT NULL DEFAULT 0,
  ended_at DATETIME(3) NULL,
  end_reason VARCHAR(32) NULL,
  PRIMARY KEY (id),
  KEY ix_ss_user_live (user_id, ended_at, last_heartbeat_at),
  KEY ix_ss_live (ended_at, last_heartbeat_at),
  CONSTRAINT fk_ss_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Users whose sessions changed in MariaDB alone (Redis unreachable): their
-- Redis state is rebuilt from stream_sessions before it is trusted again.
CREATE TABLE stream_resync (
  user_id BIGINT UNSIGNED NOT NULL,
  marked_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id)
) ENGINE=InnoDB;
