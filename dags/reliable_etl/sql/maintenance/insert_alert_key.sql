-- An alert condition seen for the first time starts not firing.
insert into ops.alert_state (alert_key) values (%(alert_key)s)
on conflict (alert_key) do nothing;
