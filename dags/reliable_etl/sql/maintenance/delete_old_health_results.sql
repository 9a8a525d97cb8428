-- One batch of health-check and watchdog results older than the cutoff.
delete from ops.maintenance_runs
where id in (
    select m.id from ops.maintenance_runs as m
    where m.job in ('health_check', 'watchdog') and m.finished_at < %(cutoff)s
    order by m.id
    limit %(batch_size)s
);
