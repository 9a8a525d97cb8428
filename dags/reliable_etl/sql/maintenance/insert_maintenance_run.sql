-- The result of one maintenance job run, in the job's dict shape.
insert into ops.maintenance_runs (job, run_id, status, started_at, duration_ms, result)
values (%(job)s, %(run_id)s, %(status)s, %(started_at)s, %(duration_ms)s, %(result)s);
