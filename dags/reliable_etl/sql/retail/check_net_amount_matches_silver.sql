-- Audit before publishing: gold's net amount for the month equals silver's, as each day's load
-- recorded it with its rows (silver.day_fingerprint): every accepted line counted once.
with silver_month as (
    select coalesce(sum(f.net_amount), 0)::numeric(18, 3) as net_amount
    from silver.day_fingerprint as f
    where f.sales_date >= %(month_start)s and f.sales_date < %(month_end)s
),

gold_month as (
    select g.net_amount
    from gold.fact_sales_monthly as g
    where g.month_key = %(month_key)s
)

select
    coalesce(g.net_amount, 0) = s.net_amount as passed,
    coalesce(g.net_amount, 0) as gold_net_amount,
    s.net_amount as silver_net_amount
from silver_month as s
left join gold_month as g on true;
