-- The alert conditions firing now, the oldest first.
select
    a.alert_key,
    a.first_failed_at,
    a.fired_at,
    a.consecutive_failures,
    a.last_message
from ops.alert_state as a
where a.firing
order by a.fired_at nulls last, a.alert_key;
