-- The daily catch-up from %(first_day)s to %(last_day)s, as segments of consecutive days alike:
-- processed (the day has a silver fingerprint), failed or running (its latest run, no data yet),
-- gap (no data while later days have some) or behind (no data after the last processed day).
with days as (
    select d::date as day
    from generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') as d
),

latest_runs as (
    select distinct on (r.metadata ->> 'day')
        (r.metadata ->> 'day')::date as day,
        r.run_id,
        r.status,
        r.error,
        coalesce(r.metadata ->> 'lost', 'false') = 'true' as lost
    from ops.pipeline_runs as r
    where r.pipeline_name = %(pipeline_name)s and r.metadata ? 'day'
    order by r.metadata ->> 'day' asc, r.started_at desc, r.id desc
),

last_processed as (
    select max(f.sales_date) as day
    from silver.day_fingerprint as f
    where f.sales_date between %(first_day)s::date and %(last_day)s::date
),

classified as (
    select
        d.day,
        coalesce(f.row_count, 0) as row_count,
        r.run_id,
        r.error,
        coalesce(r.lost, false) as lost,
        case
            when f.sales_date is not null then 'processed'
            when r.status = 'failed' then 'failed'
            when r.status = 'running' then 'running'
            when d.day < lp.day then 'gap'
            else 'behind'
        end as status
    from days as d
    cross join last_processed as lp
    left join silver.day_fingerprint as f on d.day = f.sales_date
    left join latest_runs as r on d.day = r.day
),

islands as (
    select
        c.*,
        row_number() over (order by c.day) - row_number() over (partition by c.status order by c.day) as island
    from classified as c
)

select
    i.status,
    min(i.day) as first_day,
    max(i.day) as last_day,
    count(*) as days,
    sum(i.row_count)::bigint as row_count,
    (array_agg(i.run_id order by i.day desc) filter (where i.run_id is not null))[1] as run_id,
    (array_agg(i.error order by i.day desc) filter (where i.error is not null))[1] as error,
    bool_or(i.lost) as lost
from islands as i
group by i.status, i.island
order by first_day;
