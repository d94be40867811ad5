-- The content catalog. Access level and renditions are integers as in plans
-- (0 Free .. 3 Ultimate; renditions 480p, 720p, 1080p, 4K as bits 1, 2, 4, 8).
-- Genres live in a child table (filtered with an index) and, for display, in
-- a JSON column of the row; cast, subtitles and tags are display-only JSON.

CREATE TABLE content (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  title VARCHAR(200) NOT NULL,
  description TEXT NOT NULL,
  type ENUM('movie','series','documentary','short','trailer') NOT NULL,
  access_level TINYINT UNSIGNED NOT NULL,
  duration_min INT UNSIGNED NOT NULL,
  release_date DATE NOT NULL,
  rating_avg DECIMAL(3,1) NOT NULL DEFAULT 0.0,
  rating_count INT UNSIGNED NOT NULL DEFAULT 0,
  age_rating VARCHAR(10) NULL,
  thumbnail_url VARCHAR(500) NULL,
  banner_url VARCHAR(500) NULL,
  trailer_url VARCHAR(500) NULL,
  director VARCHAR(200) NULL,
  producer VARCHAR(200) NULL,
  studio VARCHAR(200) NULL,
  language VARCHAR(20) NOT NULL DEFAULT 'en',
  renditions TINYINT UNSIGNED NOT NULL DEFAULT 1,
  genres JSON NOT NULL,
  cast_members JSON NOT NULL,
  subtitles JSON NOT NULL,
  tags JSON NOT NULL,
  is_featured TINYINT(1) NOT NULL DEFAULT 0,
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  views BIGINT UNSIGNED NOT NULL DEFAULT 0,
  likes BIGINT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  -- one index per sort order, led by the filters every listing applies
  KEY ix_content_release (is_active, access_level, release_date),
  KEY ix_content_views (is_active, views),
  KEY ix_content_rating (is_active, rating_avg),
  KEY ix_content_title (is_active, title),
  KEY ix_content_type (is_active, type, release_date),
  KEY ix_content_featured (is_active, is_featured, views),
  FULLTEXT KEY ft_content_text (title, description),
  CONSTRAINT ck_content_level CHECK (access_level <= 3),
  CONSTRAINT ck_content_rating CHECK (rating_avg >= 0 AND rating_avg <= 10),
  CONSTRAINT ck_content_json CHECK (JSON_VALID(genres) AND JSON_VALID(cast_members)
                                    AND JSON_VALID(subtitles) AND JSON_VALID(tags))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE content_genres (
  content_id BIGINT UNSIGNED NOT NULL,
  genre VARCHAR(50) NOT NULL,
  PRIMARY KEY (content_id, genre),
  KEY ix_genre_content (genre, content_id),
  CONSTRAINT fk_cg_content FOREIGN KEY (content_id) REFERENCES content (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only watch events (starts, progress, completions); trending and
-- analytics read them. RANGE partitioning by month comes with the worker.
CREATE TABLE watch_events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id BIGINT UNSIGNED NOT NULL,
  content_id BIGINT UNSIGNED NOT NULL,
  event ENUM('start','progress','complete','stop') NOT NULL,
  position_seconds INT UNSIGNED NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id, created_at),
  KEY ix_we_content_time (content_id, created_at),
  KEY ix_we_time (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
