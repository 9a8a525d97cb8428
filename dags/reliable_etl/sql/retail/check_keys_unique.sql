-- Audit before publishing: one row per product and per country in the month's marts.
with products as (
    select count(*) - count(distinct p.stock_code) as duplicates
    from gold.fact_product_performance as p
    where p.month_key = %(month_key)s
),

countries as (
    select count(*) - count(distinct c.country) as duplicates
    from gold.fact_country_sales as c
    where c.month_key = %(month_key)s
)

select
    p.duplicates = 0 and c.duplicates = 0 as passed,
    p.duplicates as duplicate_products,
    c.duplicates as duplicate_countries
from products as p
cross join countries as c;
