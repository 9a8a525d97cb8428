-- --reset: forget the month's gold entirely before rebuilding it.
with monthly as (
    delete from gold.fact_sales_monthly
    where month_key = %(month_key)s returning 1
),

products as (
    delete from gold.fact_product_performance
    where month_key = %(month_key)s returning 1
),

countries as (
    delete from gold.fact_country_sales
    where month_key = %(month_key)s returning 1
)

select (select count(*) from monthly) + (select count(*) from products) + (select count(*) from countries);
