-- When the last watch event of a (user, title) was appended: progress
-- events are sampled (at most one a minute per viewer and title, plus every
-- change of status, every completion and every stop), so a progress write
-- is usually one statement. The aggregates' watch-time rule (the position's
-- advance, capped by the time elapsed between events) gives the same totals
-- from sampled events.
ALTER TABLE watch_progress ADD COLUMN event_at DATETIME(3) NULL AFTER completed_at;
