select
    monthly.month_key,
    monthly.invoices,
    monthly.customers,
    monthly.lines,
    monthly.net_amount,
    (
        select count(*) from gold.fact_product_performance as p
        where p.month_key = monthly.month_key
    ) as products,
    (
        select count(*) from gold.fact_country_sales as c
        where c.month_key = monthly.month_key
    ) as countries
from gold.fact_sales_monthly as monthly
order by monthly.month_key;
