-- The latest finished runs of a pipeline, newest first.
select
    run_id,
    status,
    started_at,
    duration_ms,
    records_in,
    records_out,
    records_rejected,
    error_rate,
    error
from ops.pipeline_runs
where pipeline_name = %(pipeline_name)s and status <> 'running'
order by started_at desc
limit %(batch_size)s;
