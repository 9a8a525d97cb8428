-- A stage begins: committed at once so monitors see the work in progress.
insert into ops.pipeline_checkpoint as cp (
    pipeline_name, run_id, stage, checkpoint_key, lock_key, status, start_time
)
values (
    %(pipeline_name)s, %(run_id)s, %(stage)s, %(checkpoint_key)s, %(lock_key)s, 'in_progress', clock_timestamp()
)
on conflict (pipeline_name, run_id, stage, checkpoint_key) do update
    set
        status = 'in_progress',
        lock_key = excluded.lock_key,
        start_time = excluded.start_time,
        end_time = null,
        duration_ms = null,
        error = null;
