-- The kept snapshots of a table (or of every table), newest first.
select
    snapshot,
    table_name,
    taken_at,
    reason,
    row_count
from ops.file_snapshots
where %(table_name)s::text is null or table_name = %(table_name)s
order by table_name asc, taken_at desc;
