-- Audit before the swap commits: the table's new row count against the previous night's (the snapshot
-- the load just took of it). Beyond the tolerated share the check fails; a first load has nothing to
-- compare and passes.
with previous as (
    select s.row_count
    from ops.file_snapshots as s
    where s.snapshot = %(snapshot)s
)

select
    p.row_count is null
    or abs(%(rows)s::bigint - p.row_count) <= %(tolerance)s::numeric * p.row_count as passed,
    %(rows)s::bigint as rows,
    p.row_count as previous_rows,
    %(tolerance)s::numeric as tolerance
from (select 1) as one
left join previous as p on true;
