-- The alert condition after this check: failing or not, notified or not.
update ops.alert_state
set
    firing = %(firing)s,
    consecutive_failures = %(consecutive_failures)s,
    first_failed_at = %(first_failed_at)s,
    last_failed_at = case when %(failing)s then now() else last_failed_at end,
    fired_at = %(fired_at)s,
    resolved_at = case when %(resolved)s then now() else resolved_at end,
    last_message = %(message)s,
    notifications = notifications + %(sent)s,
    updated_at = now()
where alert_key = %(alert_key)s;
