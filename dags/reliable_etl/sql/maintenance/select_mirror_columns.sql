-- The columns of the tables to mirror into DuckDB, in table and column order.
select
    c.table_schema,
    c.table_name,
    c.column_name,
    c.data_type,
    c.numeric_precision,
    c.numeric_scale
from information_schema.columns as c
inner join information_schema.tables as t
    on c.table_schema = t.table_schema and c.table_name = t.table_name
where c.table_schema = any(%(schemas)s) and t.table_type = 'BASE TABLE'
order by c.table_schema, c.table_name, c.ordinal_position;
