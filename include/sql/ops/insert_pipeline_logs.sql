insert into ops.pipeline_logs (
    timestamp, level, message, logger, pipeline_name, run_id, stage, module, function, line, metadata
)
values (
    %(timestamp)s, %(level)s, %(message)s, %(logger)s, %(pipeline_name)s, %(run_id)s, %(stage)s,
    %(module)s, %(function)s, %(line)s, %(metadata)s::jsonb
);
