-- A stage ends: written by the unit's own transaction, so it commits with the data.
update ops.pipeline_checkpoint
set
    status = 'completed',
    checkpoint_value = %(checkpoint_value)s,
    end_time = clock_timestamp(),
    duration_ms = %(duration_ms)s,
    metadata = %(metadata)s::jsonb
where
    pipeline_name = %(pipeline_name)s
    and run_id = %(run_id)s
    and stage = %(stage)s
    and checkpoint_key = %(checkpoint_key)s;
