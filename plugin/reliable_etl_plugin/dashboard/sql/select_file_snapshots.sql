-- The kept snapshots of the loaded tables, newest first per table.
select
    s.snapshot,
    s.table_name,
    s.taken_at,
    s.reason,
    s.row_count
from ops.file_snapshots as s
order by s.table_name asc, s.taken_at desc;
