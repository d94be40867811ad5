-- The admin area (/admin): indexes its bounded queries need.
--
-- * users.name: GET /admin/users?search= matches the start of the name or of
--   the e-mail address (uq_users_email); both are index ranges.
-- * subscriptions (plan_id, status, end_date): GET /admin/metrics counts the
--   subscriptions in force per plan from the index alone.

ALTER TABLE users ADD KEY ix_users_name (name);
ALTER TABLE subscriptions ADD KEY ix_subs_plan_status_end (plan_id, status, end_date);
