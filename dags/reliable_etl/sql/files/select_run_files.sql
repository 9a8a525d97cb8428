-- The files of one run and what happened to them, one row per table.
select
    file_name,
    table_name,
    status,
    records,
    loaded,
    rejected,
    error_rate,
    snapshot,
    error,
    archived_to
from ops.file_loads
where run_id = %(run_id)s
order by file_name asc, table_name asc;
