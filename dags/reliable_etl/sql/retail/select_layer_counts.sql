select
    'bronze.retail_sales' as layer,
    count(*) as row_count
from bronze.retail_sales
union all
select
    'silver.fact_sales_daily' as layer,
    count(*) as row_count
from silver.fact_sales_daily
union all
select
    'gold.fact_sales_monthly' as layer,
    count(*) as row_count
from gold.fact_sales_monthly
union all
select
    'gold.fact_product_performance' as layer,
    count(*) as row_count
from gold.fact_product_performance
union all
select
    'gold.fact_country_sales' as layer,
    count(*) as row_count
from gold.fact_country_sales
union all
select
    'ops.rejected_rows' as layer,
    count(*) as row_count
from ops.rejected_rows
where pipeline_name = 'retail';
