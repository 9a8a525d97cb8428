-- The latest finished runs of every pipeline, newest first: the window health and metrics grade.
-- The pipelines are found by a skip scan of pipeline_runs_recent_idx (one index probe each), not
-- by reading every run: the ledger keeps a year of hourly runs per sync entity.
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
    recent.run_id,
    recent.status,
    recent.started_at,
    recent.ended_at,
    recent.duration_ms,
    recent.records_in,
    recent.records_out,
    recent.records_rejected,
    recent.error_rate,
    recent.error,
    coalesce(recent.metadata ->> 'lost', 'false') = 'true' as lost,
    recent.metadata ->> 'dag_id' as dag_id
from pipelines as p
cross join
    lateral (
        select r.*
        from ops.pipeline_runs as r
        where r.pipeline_name = p.pipeline_name and r.status <> 'running'
        order by r.started_at desc, r.id desc
        limit %(batch_size)s
    ) as recent
where p.pipeline_name is not null
order by p.pipeline_name asc, recent.started_at desc, recent.id desc;
