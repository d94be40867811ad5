-- Plans, subscriptions and devices. Access levels are integers:
-- 0 Free, 1 Basic, 2 Premium, 3 Ultimate; content checks are WHERE access_level <= ?.
-- Renditions likewise: 0 480p, 1 720p, 2 1080p, 3 4K.

CREATE TABLE plans (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(50) NOT NULL,
  description VARCHAR(1000) NULL,
  price DECIMAL(10,2) NOT NULL,
  currency CHAR(3) CHARACTER SET ascii NOT NULL DEFAULT 'USD',
  validity_days INT UNSIGNED NOT NULL,
  access_level TINYINT UNSIGNED NOT NULL,
  max_devices INT UNSIGNED NOT NULL,
  max_streams INT UNSIGNED NOT NULL,
  resolution TINYINT UNSIGNED NOT NULL,
  features JSON NOT NULL,
  download_allowed TINYINT(1) NOT NULL DEFAULT 0,
  ads_enabled TINYINT(1) NOT NULL DEFAULT 0,
  is_popular TINYINT(1) NOT NULL DEFAULT 0,
  display_order INT NOT NULL DEFAULT 0,
  is_active TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (id),
  UNIQUE KEY uq_plans_name (name),
  KEY ix_plans_active_order (is_active, display_order),
  CONSTRAINT ck_plans_price CHECK (price >= 0),
  CONSTRAINT ck_plans_validity CHECK (validity_days > 0),
  CONSTRAINT ck_plans_level CHECK (access_level <= 3),
  CONSTRAINT ck_plans_resolution CHECK (resolution <= 3),
  CONSTRAINT ck_plans_limits CHECK (max_devices >= 1 AND max_streams >= 1),
  CONSTRAINT ck_plans_features CHECK (JSON_VALID(features))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE subscriptions (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id BIGINT UNSIGNED NOT NULL,
  plan_id BIGINT UNSIGNED NOT NULL,
  -- a cancelled subscription stays 'active' (auto_renew 0) until end_date
  status ENUM('active','expired','replaced') NOT NULL DEFAULT 'active',
  start_date DATETIME(3) NOT NULL,
  end_date DATETIME(3) NOT NULL,
  auto_renew TINYINT(1) NOT NULL DEFAULT 1,
  transaction_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  currency CHAR(3) CHARACTER SET ascii NOT NULL,
  payment_method VARCHAR(32) CHARACTER SET ascii NOT NULL,
  payment_date DATETIME(3) NOT NULL,
  cancelled_at DATETIME(3) NULL,
  cancel_reason VARCHAR(500) NULL,
  ended_at DATETIME(3) NULL,
  expiring_notified_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  -- at most one active subscription per user, enforced by the index
  active_user_id BIGINT UNSIGNED AS (IF(status = 'active', user_id, NULL)) PERSISTENT,
  PRIMARY KEY (id),
  UNIQUE KEY uq_subs_one_active (active_user_id),
  UNIQUE KEY uq_subs_txn (transaction_id),
  KEY ix_subs_user_created (user_id, created_at),
  KEY ix_subs_plan_status (plan_id, status),
  KEY ix_subs_status_end (status, end_date),
  CONSTRAINT fk_subs_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_subs_plan FOREIGN KEY (plan_id) REFERENCES plans (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Devices a user has streamed from; each distinct device_id takes a slot of max_devices.
CREATE TABLE devices (
  user_id BIGINT UNSIGNED NOT NULL,
  device_id VARCHAR(128) NOT NULL,
  device_name VARCHAR(100) NOT NULL,
  device_type VARCHAR(32) NOT NULL DEFAULT 'unknown',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_used DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id, device_id),
  CONSTRAINT fk_devices_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO plans (name, description, price, currency, validity_days, access_level, max_devices,
                   max_streams, resolution, features, download_allowed, ads_enabled, is_popular,
                   display_order)
VALUES
  ('Free', 'Watch a selection of titles free, with ads.', 0.00, 'USD', 365, 0, 1, 1, 0,
   '["Free titles","480p","1 screen","With ads"]', 0, 1, 0, 1),
  ('Basic', 'The Basic catalogue in HD on one screen.', 9.99, 'USD', 30, 1, 1, 1, 1,
   '["Basic catalogue","720p HD","1 screen","No ads"]', 0, 0, 0, 2),
  ('Premium', 'Full HD on two screens at once, with downloads.', 14.99, 'USD', 30, 2, 4, 2, 2,
   '["Premium catalogue","1080p Full HD","2 screens","Downloads","No ads"]', 1, 0, 1, 3),
  ('Ultimate', 'Everything in 4K on four screens.', 19.99, 'USD', 30, 3, 6, 4, 3,
   '["Entire catalogue","4K Ultra HD","4 screens","Downloads","No ads"]', 1, 0, 0, 4);
