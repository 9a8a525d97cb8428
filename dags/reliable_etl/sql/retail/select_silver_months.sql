-- Months with silver input, and whether their gold is current.
with months as (
    select
        to_char(sales_date, 'YYYY-MM') as month_key,
        md5(string_agg(sales_date::text || ':' || fingerprint, ',' order by sales_date)) as fingerprint,
        sum(row_count)::bigint as input_rows
    from silver.day_fingerprint
    group by to_char(sales_date, 'YYYY-MM')
)

select
    months.month_key,
    months.input_rows,
    processed.status,
    processed.status = 'completed' and processed.input_fingerprint = months.fingerprint as is_current
from months
left join ops.processed_months as processed
    on processed.pipeline_name = 'retail' and months.month_key = processed.month_key
order by months.month_key;
