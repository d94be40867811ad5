-- The access-token signing keys (sp-admin rotate-jwt-key) and the last run
-- of each worker job (sp-admin status).
--
-- A key is never stored: each row holds a random salt, and the key is
-- HMAC-SHA256(jwt.secret, "jwt-key|" kid "|" salt), so a copy of the
-- database alone signs nothing. kid '0' with no salt stands for jwt.secret
-- itself, the key of a deployment that never rotated. An empty table means
-- exactly that: jwt.secret signs and verifies, kid '0'. The signing key is
-- the newest row with retire_at NULL; a row whose retire_at has passed
-- verifies nothing and is deleted by the next rotation or the worker's
-- "resets" job.
CREATE TABLE jwt_keys (
  kid VARCHAR(32) NOT NULL,
  salt CHAR(64) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT UTC_TIMESTAMP(3),
  retire_at DATETIME(3) NULL,
  PRIMARY KEY (kid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per job and host, overwritten by every run that took the job's lock.
CREATE TABLE job_runs (
  job VARCHAR(32) NOT NULL,
  host VARCHAR(64) NOT NULL,
  started_at DATETIME(3) NOT NULL,
  finished_at DATETIME(3) NULL,
  exit_code INT NULL,
  PRIMARY KEY (job, host)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
