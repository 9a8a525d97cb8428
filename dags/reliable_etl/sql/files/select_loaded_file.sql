-- The last load into a table, if it was of these very bytes.
select
    last_load.run_id,
    last_load.at,
    last_load.snapshot
from (
    select
        loads.run_id,
        loads.at,
        loads.snapshot,
        loads.sha256
    from ops.file_loads as loads
    where loads.table_name = %(table_name)s and loads.status = 'loaded'
    order by loads.at desc, loads.id desc
    limit 1
) as last_load
where last_load.sha256 = %(sha256)s;
