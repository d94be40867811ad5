-- The mailer (sp-worker mailer) claims outbox events with a lease: a run
-- sets locked_until and its own lease_id on the rows it takes, sends them,
-- then marks each only if the lease is still its own. A run that dies leaves
-- the lease to expire, and the event is taken again.
-- 'skipped': an event deliberately not mailed (the user turned the mail off,
-- the reset link expired first, the account or subscription is gone), with
-- the reason in skip_reason; it is never considered again.
ALTER TABLE outbox
  MODIFY status ENUM('pending','sent','failed','skipped') NOT NULL DEFAULT 'pending',
  ADD COLUMN locked_until DATETIME(3) NULL AFTER next_attempt_at,
  ADD COLUMN lease_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER locked_until,
  ADD COLUMN skip_reason VARCHAR(64) NULL AFTER last_error;
