-- The stages a dead run left in progress: failed with it.
update ops.pipeline_checkpoint as cp
set
    status = 'failed',
    end_time = clock_timestamp(),
    duration_ms = (extract(epoch from clock_timestamp() - cp.start_time) * 1000)::bigint,
    error = %(error)s
where
    cp.pipeline_name = %(pipeline_name)s
    and cp.run_id = %(run_id)s
    and cp.status = 'in_progress'
returning cp.stage;
