-- The latest result of each maintenance job (the watchdog's included), for the health route.
select distinct on (m.job)
    m.job,
    m.run_id,
    m.status,
    m.started_at,
    m.finished_at,
    m.duration_ms,
    m.result
from ops.maintenance_runs as m
order by m.job asc, m.finished_at desc, m.id desc;
