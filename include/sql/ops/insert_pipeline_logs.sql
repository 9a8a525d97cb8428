insert into ops.pipeline_logs (
    "timestamp", level, message, logger, pipeline_name, run_id, stage, module, function, line, metadata
)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb);
