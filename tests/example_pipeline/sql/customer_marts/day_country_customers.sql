select
    m.sales_date,
    m.country,
    count(distinct m.customer_id)::bigint as customers,
    sum(m.net_amount)::numeric(18, 3) as net_amount
from mart.day_customers as m
where m.sales_date = %(day)s
group by m.sales_date, m.country
