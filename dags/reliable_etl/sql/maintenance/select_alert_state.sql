-- The state of one alert condition, locked until the decision (and its notification) is made.
select
    a.firing,
    a.consecutive_failures,
    a.first_failed_at,
    a.fired_at
from ops.alert_state as a
where a.alert_key = %(alert_key)s
for update;
