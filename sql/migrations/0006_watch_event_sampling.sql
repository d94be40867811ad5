-- watch_progress, shaped for its upsert:
-- * event_at: when the last watch event of a (user, title) was appended.
--   Progress events are sampled (at most one a minute per viewer and title,
--   plus every change of status, every completion and every stop), so a
--   progress write is usually one statement. The aggregates' watch-time
--   rule (the position's advance, capped by the time elapsed between
--   events) gives the same totals from sampled events.
-- * the primary key is (user_id, content_id): an upsert then finds its row
--   in the clustered index at once, where a duplicate on a secondary unique
--   key first inserted a clustered row and rolled it back; and one viewer's
--   rows lie together. The opaque id stays, unique.
-- * no index on updated_at, which every write changes: a viewer's rows are
--   few and read by primary-key prefix, then sorted (and the answers are
--   cached in Redis).
ALTER TABLE watch_progress
  ADD COLUMN event_at DATETIME(3) NULL AFTER completed_at,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (user_id, content_id),
  ADD UNIQUE KEY ux_wp_id (id),
  DROP KEY ux_wp_user_content,
  DROP KEY ix_wp_user_recent;
