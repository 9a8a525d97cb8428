-- The tables of the schemas to back up (partitioned tables once, as their parent).
select
    n.nspname as schema_name,
    c.relname as table_name
from pg_class as c
inner join pg_namespace as n on c.relnamespace = n.oid
where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'p') and not c.relispartition
order by n.nspname, c.relname;
