-- The latest errors logged by any pipeline, with where they ran in Airflow (for the task log link).
select
    l.id,
    l.timestamp,
    l.level,
    l.message,
    l.pipeline_name,
    l.run_id,
    l.stage,
    l.dag_id,
    l.task_id,
    l.map_index,
    l.try_number
from ops.pipeline_logs as l
where l.level in ('ERROR', 'CRITICAL')
order by l.id desc
limit %(batch_size)s;
