-- The columns of a table of schema files, in order, with their types.
select
    column_name,
    data_type
from information_schema.columns
where table_schema = %(schema)s and table_name = %(table)s
order by ordinal_position;
