-- After a unit rolled back: its stages never completed (a row a later unit already found
-- "lost" in the instant between our rollback and this update gets the real error).
update ops.pipeline_checkpoint
set
    status = 'failed',
    end_time = clock_timestamp(),
    duration_ms = (extract(epoch from clock_timestamp() - start_time) * 1000)::bigint,
    error = %(error)s
where
    pipeline_name = %(pipeline_name)s
    and run_id = %(run_id)s
    and checkpoint_key = %(checkpoint_key)s
    and (status = 'in_progress' or (status = 'failed' and error like 'process lost%%'));
