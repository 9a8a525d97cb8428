-- B-tree indexes much larger than their estimated size, so REINDEX gives space back. The
-- estimate: the table's rows times the leaf tuple size (8-byte header, the columns' average
-- width from pg_stats rounded up to 8, a 4-byte line pointer) over 8 kB pages filled to 90 percent. Only
-- plain column indexes with statistics for every column (no expression or partial index).
with candidates as (
    select
        i.indexrelid,
        i.indrelid,
        i.indkey::smallint[] as columns,
        n.nspname as schema_name,
        ci.relname as index_name,
        ct.relname as table_name,
        ci.relpages,
        ct.reltuples,
        current_setting('block_size')::integer as block_size
    from pg_index as i
    inner join pg_class as ci on i.indexrelid = ci.oid
    inner join pg_class as ct on i.indrelid = ct.oid
    inner join pg_namespace as n on ci.relnamespace = n.oid
    inner join pg_am as am on ci.relam = am.oid
    where
        am.amname = 'btree'
        and i.indisvalid
        and i.indpred is null
        and i.indexprs is null
        and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
        and ct.reltuples > 0
),

widths as (
    select
        c.indexrelid,
        sum(st.avg_width) as key_width,
        count(st.avg_width) = count(*) as has_stats
    from candidates as c
    cross join lateral unnest(c.columns) as k (attnum)
    inner join pg_attribute as a on c.indrelid = a.attrelid and k.attnum = a.attnum
    left join pg_stats as st
        on c.schema_name = st.schemaname and c.table_name = st.tablename and a.attname = st.attname
    group by c.indexrelid
),

estimates as (
    select
        c.schema_name,
        c.index_name,
        c.table_name,
        c.relpages::bigint * c.block_size as size_bytes,
        greatest(
            2,
            ceil(c.reltuples * (8 + ceil(w.key_width / 8.0) * 8 + 4) / ((c.block_size - 40) * 0.9)) + 1
        ) as expected_pages,
        c.relpages,
        c.block_size
    from candidates as c
    inner join widths as w on c.indexrelid = w.indexrelid
    where w.has_stats
)

select
    schema_name,
    index_name,
    table_name,
    size_bytes,
    (expected_pages * block_size)::bigint as expected_bytes,
    round((relpages / expected_pages)::numeric, 2) as bloat
from estimates
where size_bytes >= %(min_bytes)s and relpages / expected_pages >= %(bloat)s
order by size_bytes desc;
