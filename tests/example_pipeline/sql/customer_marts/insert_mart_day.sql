insert into mart.day_customers (sales_date, customer_id, country, lines, net_amount)
select
    s.sales_date,
    s.customer_id,
    s.country,
    count(*) as lines,
    sum(s.amount) as net_amount
from silver.fact_sales_daily as s
where s.sales_date = %(day)s and s.customer_id is not null
group by s.sales_date, s.customer_id, s.country
