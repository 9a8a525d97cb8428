-- Retail days expected in [first_day, last_day] without a silver fingerprint (never processed,
-- or deleted since), and the latest day processed at all.
with expected as (
    select d::date as day
    from generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') as d
)

select
    (select max(latest.sales_date) from silver.day_fingerprint as latest) as last_day,
    coalesce(array_agg(e.day order by e.day) filter (where f.sales_date is null), '{}') as missing
from expected as e
left join silver.day_fingerprint as f on e.day = f.sales_date;
