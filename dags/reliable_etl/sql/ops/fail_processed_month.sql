-- A month whose gold could not be published keeps its last good fingerprints, flagged failed.
insert into ops.processed_months as p (pipeline_name, target, month_key, year, month, status, error)
values (%(pipeline_name)s, %(target)s, %(unit_key)s, %(year)s, %(month)s, 'failed', %(error)s)
on conflict (pipeline_name, target, month_key) do update
    set
        status = 'failed',
        error = excluded.error,
        updated_at = now();
