select
    coalesce(g.net_amount, 0) = s.net_amount as passed,
    coalesce(g.net_amount, 0) as gold_net_amount,
    s.net_amount as silver_net_amount
from (
    select coalesce(sum(amount), 0)::numeric(18, 3) as net_amount
    from silver.fact_sales_daily
    where sales_date = %(day)s and customer_id is not null
) as s
left join gold.day_totals as g on g.sales_date = %(day)s
