-- Signed webhooks: the endpoints an admin registers, and one delivery row per
-- (webhook, outbox event) the worker job `webhooks` fans out, claims, posts,
-- retries and records. The outbox itself is only read.

CREATE TABLE webhooks (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  url VARCHAR(2048) NOT NULL,
  -- the signing secret, sealed with sp_seal (AES-256-GCM, bound to the row's id); never in clear
  secret_sealed VARCHAR(1100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- the event names it wants: a JSON array of strings ("subscription.*" matches every subscription.X)
  events JSON NOT NULL,
  active TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  -- fan-out cursor: every outbox event with a higher id is still to be looked at;
  -- starts at the newest event when the webhook is created, so it gets only later ones
  cursor_outbox_id BIGINT UNSIGNED NOT NULL DEFAULT 0,
  -- the outcome of the newest attempt: HTTP status (NULL: none yet, or no HTTP answer),
  -- its time, and failed attempts since the last 2xx
  last_status SMALLINT NULL,
  last_error VARCHAR(64) NULL,
  last_attempt_at DATETIME(3) NULL,
  failures INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  CONSTRAINT ck_webhooks_events CHECK (JSON_VALID(events))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE webhook_deliveries (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  webhook_id BIGINT UNSIGNED NOT NULL,
  outbox_id BIGINT UNSIGNED NOT NULL,
  -- pending until a 2xx (delivered, never sent again) or the last attempt failed (failed)
  status ENUM('pending','delivered','failed') NOT NULL DEFAULT 'pending',
  attempts INT UNSIGNED NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(3) NOT NULL,
  -- a claim: the run that holds it and until when; another run takes it only after that
  lease_owner CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
  lease_until DATETIME(3) NULL,
  last_status SMALLINT NULL,
  last_error VARCHAR(64) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  delivered_at DATETIME(3) NULL,
  PRIMARY KEY (id),
  -- one delivery per event and webhook, however often the fan-out looks at the event
  UNIQUE KEY uq_wd_webhook_outbox (webhook_id, outbox_id),
  KEY ix_wd_due (status, next_attempt_at),
  -- deleting a webhook deletes its deliveries: it gets nothing more
  CONSTRAINT fk_wd_webhook FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
