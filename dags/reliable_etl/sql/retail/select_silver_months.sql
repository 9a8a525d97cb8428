-- Months with silver input, and whether their gold is current: published from this input and this
-- logic (its own ledger row, or a row from before targets not yet adopted).
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
    coalesce(
        processed.status = 'completed'
        and processed.input_fingerprint = months.fingerprint
        and processed.logic_fingerprint = %(logic_fingerprint)s,
        false
    ) as is_current
from months
left join lateral (
    select
        p.status,
        p.input_fingerprint,
        p.logic_fingerprint
    from ops.processed_months as p
    where p.pipeline_name = 'retail' and p.month_key = months.month_key and p.target in (%(target)s, '')
    order by p.target desc
    limit 1
) as processed on true
order by months.month_key;
