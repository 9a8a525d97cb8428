insert into ops.pipeline_logs (
    timestamp, level, message, logger, pipeline_name, run_id, stage, module, function, line, metadata,
    dag_id, task_id, map_index, try_number
)
values (
    %(timestamp)s, %(level)s, %(message)s, %(logger)s, %(pipeline_name)s, %(run_id)s, %(stage)s,
    %(module)s, %(function)s, %(line)s, %(metadata)s::jsonb,
    %(dag_id)s, %(task_id)s, %(map_index)s, %(try_number)s
);
