-- The latest units other than months (days, weeks, any key) the pipelines have published.
select
    u.pipeline_name,
    u.unit_key,
    u.unit_kind,
    u.status,
    u.input_rows,
    u.rows_written,
    u.input_fingerprint,
    u.error,
    u.processed_at,
    u.updated_at
from ops.processed_units as u
order by u.updated_at desc, u.id desc
limit %(batch_size)s;
