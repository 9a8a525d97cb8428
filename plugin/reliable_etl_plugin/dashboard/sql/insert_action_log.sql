-- An action a user took on the dashboard (trigger, recover), beside the pipelines' own records.
insert into ops.pipeline_logs (
    timestamp, level, message, logger, pipeline_name, run_id, stage, metadata, dag_id
)
values (
    now(), 'INFO', %(message)s, 'reliable_etl_plugin.dashboard', 'dashboard', %(run_id)s, %(stage)s,
    %(metadata)s || jsonb_build_object('user', %(user)s::text), %(metadata)s ->> 'dag_id'
);
