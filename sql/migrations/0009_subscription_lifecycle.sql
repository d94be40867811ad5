-- The subscription lifecycle (worker job "lifecycle") and plan changes that
-- reach playback.
--
-- * A renewal keeps the subscription's row (same id, status active, new
--   dates and payment details); every payment, the first and each renewal,
--   is kept here, one row per charge, written by the triggers below whatever
--   path changed the subscription (subscribe, seed, renewal), so no payment
--   is ever lost when a renewal overwrites the row's payment details.
-- * subscriptions.expiring_notified_at (0002) records the period's
--   "subscription.expiring" notice; a renewal clears it for the new period.
-- * stream_sessions.max_quality: the highest rendition the session may
--   fetch now (0 480p .. 3 4K), set at start from the plan and refreshed by
--   each heartbeat from the viewer's current level, so a downgrade or an
--   expiry caps a running stream; NULL (rows from before) caps nothing.

CREATE TABLE subscription_payments (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  subscription_id BIGINT UNSIGNED NOT NULL,
  user_id BIGINT UNSIGNED NOT NULL,
  kind ENUM('initial','renewal') NOT NULL,
  transaction_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  currency CHAR(3) CHARACTER SET ascii NOT NULL,
  payment_method VARCHAR(32) CHARACTER SET ascii NOT NULL,
  paid_at DATETIME(3) NOT NULL,
  period_start DATETIME(3) NOT NULL,
  period_end DATETIME(3) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_subpay_txn (transaction_id),
  KEY ix_subpay_sub (subscription_id, paid_at),
  KEY ix_subpay_user (user_id, paid_at),
  CONSTRAINT fk_subpay_sub FOREIGN KEY (subscription_id) REFERENCES subscriptions (id)
    ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT INTO subscription_payments (subscription_id, user_id, kind, transaction_id, amount,
                                   currency, payment_method, paid_at, period_start, period_end)
SELECT id, user_id, 'initial', transaction_id, amount, currency, payment_method, payment_date,
       start_date, end_date
  FROM subscriptions;

CREATE TRIGGER tr_subs_payment_insert AFTER INSERT ON subscriptions FOR EACH ROW
  INSERT INTO subscription_payments (subscription_id, user_id, kind, transaction_id, amount,
                                     currency, payment_method, paid_at, period_start, period_end)
  VALUES (NEW.id, NEW.user_id, 'initial', NEW.transaction_id, NEW.amount, NEW.currency,
          NEW.payment_method, NEW.payment_date, NEW.start_date, NEW.end_date);

CREATE TRIGGER tr_subs_payment_renewal AFTER UPDATE ON subscriptions FOR EACH ROW
  INSERT INTO subscription_payments (subscription_id, user_id, kind, transaction_id, amount,
                                     currency, payment_method, paid_at, period_start, period_end)
  SELECT NEW.id, NEW.user_id, 'renewal', NEW.transaction_id, NEW.amount, NEW.currency,
         NEW.payment_method, NEW.payment_date, NEW.start_date, NEW.end_date
    FROM DUAL WHERE NEW.transaction_id <> OLD.transaction_id;

ALTER TABLE stream_sessions
  ADD COLUMN max_quality TINYINT NULL AFTER quality;
