-- The latest file loads, newest first.
select
    f.id,
    f.run_id,
    f.file_name,
    f.table_name,
    f.status,
    f.records,
    f.loaded,
    f.rejected,
    f.error_rate,
    f.snapshot,
    f.error,
    f.archived_to,
    f.at
from ops.file_loads as f
order by f.id desc
limit %(batch_size)s;
