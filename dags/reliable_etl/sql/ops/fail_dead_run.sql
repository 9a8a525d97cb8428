-- A run whose holder is gone: closed as failed and lost (unless its own process closed it meanwhile).
update ops.pipeline_runs as runs
set
    status = 'failed',
    ended_at = clock_timestamp(),
    duration_ms = (extract(epoch from clock_timestamp() - runs.started_at) * 1000)::bigint,
    error = %(error)s,
    metadata = runs.metadata || jsonb_build_object('lost', true)
where
    runs.pipeline_name = %(pipeline_name)s
    and runs.run_id = %(run_id)s
    and runs.status = 'running'
returning runs.run_id;
