-- Runs that died inside a unit: closed as failed, marked lost (their process never said why).
update ops.pipeline_runs as runs
set
    status = 'failed',
    ended_at = clock_timestamp(),
    duration_ms = (extract(epoch from clock_timestamp() - runs.started_at) * 1000)::bigint,
    error = %(error)s,
    metadata = runs.metadata || jsonb_build_object('lost', true, 'lost_unit', %(checkpoint_key)s::text)
where
    runs.pipeline_name = %(pipeline_name)s
    and runs.status = 'running'
    and runs.run_id = any(%(run_ids)s)
    and runs.run_id <> %(run_id)s
returning runs.run_id;
