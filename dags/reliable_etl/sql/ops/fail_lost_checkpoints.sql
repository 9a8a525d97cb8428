-- The unit's lock is ours: its stages still in progress belong to a process that is gone.
update ops.pipeline_checkpoint as cp
set
    status = 'failed',
    end_time = clock_timestamp(),
    duration_ms = (extract(epoch from clock_timestamp() - cp.start_time) * 1000)::bigint,
    error = %(error)s
where
    cp.pipeline_name = %(pipeline_name)s
    and cp.checkpoint_key = %(checkpoint_key)s
    and cp.status = 'in_progress'
returning cp.run_id, cp.stage;
