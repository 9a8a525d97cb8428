-- Weekly sales per country: the week that starts on %(unit_key)s (a Monday), from silver.
-- A model: GoldUpsertOperator upserts these rows into gold.weekly_country_sales by
-- (week_start, country), writes only rows that changed, and deletes countries gone from the week.
select
    %(unit_key)s::date as week_start,
    sales.country,
    count(*)::bigint as lines,
    count(distinct sales.invoice_no)::bigint as invoices,
    sum(sales.amount)::numeric(18, 3) as net_amount
from silver.fact_sales_daily as sales
where
    sales.sales_date >= %(unit_key)s::date
    and sales.sales_date < %(unit_key)s::date + 7
group by sales.country
