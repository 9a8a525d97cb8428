-- Every month a pipeline has published (or is publishing, or failed to), by pipeline and month.
select
    m.pipeline_name,
    m.month_key,
    m.year,
    m.month,
    m.status,
    m.input_rows,
    m.rows_written,
    m.input_fingerprint,
    m.error,
    m.processed_at,
    m.updated_at
from ops.processed_months as m
order by m.pipeline_name, m.month_key;
