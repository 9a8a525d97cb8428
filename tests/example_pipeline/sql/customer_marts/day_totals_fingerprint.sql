select
    md5(coalesce(string_agg(m::text, '|' order by m.customer_id, m.country), '')) as fingerprint,
    count(*) as input_rows
from mart.day_customers as m
where m.sales_date = %(day)s
