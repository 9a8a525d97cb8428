-- Per pipeline, its latest %(points)s finished runs, oldest first, each with the failed-run share
-- and the average error rate of the %(batch_size)s runs ending with it: how its health grade moved.
-- (The pipelines by a skip scan, their runs by pipeline_runs_recent_idx, as in select_recent_runs.sql.)
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
),

recent as (
    select
        p.pipeline_name,
        runs.run_id,
        runs.started_at,
        runs.status,
        runs.error_rate,
        runs.recency
    from pipelines as p
    cross join
        lateral (
            select
                r.run_id,
                r.started_at,
                r.status,
                coalesce(r.error_rate, 0) as error_rate,
                row_number() over (order by r.started_at desc, r.id desc) as recency
            from ops.pipeline_runs as r
            where r.pipeline_name = p.pipeline_name and r.status <> 'running'
            order by r.started_at desc, r.id desc
            limit %(points)s + %(batch_size)s - 1
        ) as runs
    where p.pipeline_name is not null
)

select
    point.pipeline_name,
    point.run_id,
    point.started_at,
    point.status,
    point.error_rate,
    -- the window: this run and the runs before it
    count(*) as runs,
    avg((earlier.status = 'failed')::integer::double precision) as failed_share,
    avg(earlier.error_rate) as avg_error_rate
from recent as point
inner join recent as earlier
    on
        point.pipeline_name = earlier.pipeline_name
        and earlier.recency between point.recency and point.recency + %(batch_size)s - 1
where point.recency <= %(points)s
group by point.pipeline_name, point.run_id, point.started_at, point.status, point.error_rate, point.recency
order by point.pipeline_name asc, point.recency desc;
