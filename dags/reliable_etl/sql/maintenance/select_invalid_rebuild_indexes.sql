-- Invalid indexes a failed REINDEX CONCURRENTLY left behind (named <index>_ccnew or _ccold).
select
    n.nspname as schema_name,
    c.relname as index_name
from pg_index as i
inner join pg_class as c on i.indexrelid = c.oid
inner join pg_namespace as n on c.relnamespace = n.oid
where not i.indisvalid and c.relname ~ '_cc(new|old)[0-9]*$'
order by n.nspname, c.relname;
