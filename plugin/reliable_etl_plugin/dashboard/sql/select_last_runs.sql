-- The latest run of every pipeline, finished or not (the pipelines by a skip scan, as in
-- select_recent_runs.sql).
with recursive pipelines as (
    (
        select r.pipeline_name
        from ops.pipeline_runs as r
        order by r.pipeline_name
        limit 1
    )
    union all
    select (
        select r.pipeline_name
        from ops.pipeline_runs as r
        where r.pipeline_name > p.pipeline_name
        order by r.pipeline_name
        limit 1
    )
    from pipelines as p
    where p.pipeline_name is not null
)

select
    p.pipeline_name,
    latest.run_id,
    latest.status,
    latest.started_at,
    latest.ended_at,
    latest.error
from pipelines as p
cross join
    lateral (
        select r.*
        from ops.pipeline_runs as r
        where r.pipeline_name = p.pipeline_name
        order by r.started_at desc, r.id desc
        limit 1
    ) as latest
where p.pipeline_name is not null
order by p.pipeline_name;
