-- The last run of each pipeline in the ledger, and its runs of the last 24 hours by outcome.
with last_run as (
    select distinct on (r.pipeline_name)
        r.pipeline_name,
        r.run_id,
        r.status,
        r.started_at,
        r.ended_at,
        r.duration_ms,
        r.records_in,
        r.records_out,
        r.records_rejected,
        r.error
    from ops.pipeline_runs as r
    order by r.pipeline_name asc, r.started_at desc, r.id desc
),

recent as (
    select
        r.pipeline_name,
        count(*) filter (where r.status = 'success') as succeeded_24h,
        count(*) filter (where r.status = 'failed') as failed_24h
    from ops.pipeline_runs as r
    where r.started_at > now() - interval '24 hours'
    group by r.pipeline_name
)

select
    l.pipeline_name,
    l.run_id,
    l.status,
    l.started_at,
    l.ended_at,
    l.duration_ms,
    l.records_in,
    l.records_out,
    l.records_rejected,
    l.error,
    coalesce(c.succeeded_24h, 0) as succeeded_24h,
    coalesce(c.failed_24h, 0) as failed_24h
from last_run as l
left join recent as c on l.pipeline_name = c.pipeline_name
order by l.pipeline_name;
