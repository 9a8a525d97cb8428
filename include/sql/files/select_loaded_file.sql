-- The last load of these very bytes into a table, if any.
select
    run_id,
    at,
    snapshot
from ops.file_loads
where table_name = %(table_name)s and sha256 = %(sha256)s and status = 'loaded'
order by at desc
limit 1;
