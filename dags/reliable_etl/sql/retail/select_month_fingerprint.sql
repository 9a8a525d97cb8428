-- The month's silver input as one fingerprint, from the per-day fingerprints.
select
    md5(string_agg(sales_date::text || ':' || fingerprint, ',' order by sales_date)) as fingerprint,
    coalesce(sum(row_count), 0)::bigint as input_rows,
    count(*)::integer as days
from silver.day_fingerprint
where sales_date >= %(month_start)s and sales_date < %(month_end)s;
