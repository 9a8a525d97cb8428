-- The name of a table's primary key constraint, if it has one.
select c.conname
from pg_constraint as c
inner join pg_class as t on c.conrelid = t.oid
inner join pg_namespace as n on t.relnamespace = n.oid
where n.nspname = %(schema)s and t.relname = %(table)s and c.contype = 'p';
