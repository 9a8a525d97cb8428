-- Rows and an order-independent fingerprint of a table's content (composed: {table}).
select
    count(*) as row_count,
    md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as checksum
from {table} as t;
