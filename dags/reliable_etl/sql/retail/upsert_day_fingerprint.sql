-- Fingerprint of the day's silver rows (read after the upsert, in the same transaction), with the
-- file's sha256 and the fingerprint of the rules it was loaded with.
with day_rows as (
    select
        count(*) as row_count,
        coalesce(sum(s.amount), 0) as net_amount,
        md5(coalesce(string_agg(s::text, '|' order by s.source_line), '')) as fingerprint
    from silver.fact_sales_daily as s
    where s.sales_date = %(day)s
)

insert into silver.day_fingerprint as f (
    sales_date, source_sha256, row_count, net_amount, fingerprint, logic_fingerprint
)
select
    %(day)s,
    %(sha256)s,
    row_count,
    net_amount,
    fingerprint,
    %(logic_fingerprint)s
from day_rows
on conflict (sales_date) do update
    set
        source_sha256 = excluded.source_sha256,
        row_count = excluded.row_count,
        net_amount = excluded.net_amount,
        fingerprint = excluded.fingerprint,
        logic_fingerprint = excluded.logic_fingerprint,
        updated_at = now()
    where
    (f.source_sha256, f.fingerprint, f.logic_fingerprint)
    is distinct from (excluded.source_sha256, excluded.fingerprint, excluded.logic_fingerprint);
