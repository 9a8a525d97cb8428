-- The runs still open (of one pipeline, or all), other than the asking run, with their holders.
select
    r.pipeline_name,
    r.run_id,
    r.metadata -> 'holder' as holder
from ops.pipeline_runs as r
where
    r.status = 'running'
    and (%(pipeline_name)s::text is null or r.pipeline_name = %(pipeline_name)s)
    and r.run_id <> %(run_id)s
order by r.started_at asc;
