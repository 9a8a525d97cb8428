-- The last finished run of the nightly files and the last successful one.
with last_success as (
    select max(r.started_at) as started_at
    from ops.pipeline_runs as r
    where r.pipeline_name = %(pipeline_name)s and r.status = 'success'
),

last_run as (
    select
        r.status,
        r.started_at,
        r.error
    from ops.pipeline_runs as r
    where r.pipeline_name = %(pipeline_name)s and r.status <> 'running'
    order by r.started_at desc
    limit 1
)

select
    s.started_at as last_success_at,
    l.status as last_status,
    l.started_at as last_started_at,
    l.error as last_error
from last_success as s
left join last_run as l on true;
