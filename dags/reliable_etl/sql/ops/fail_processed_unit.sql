-- A unit whose gold could not be published keeps its last good fingerprints, flagged failed.
insert into ops.processed_units as p (pipeline_name, target, unit_key, unit_kind, status, error)
values (%(pipeline_name)s, %(target)s, %(unit_key)s, %(unit_kind)s, 'failed', %(error)s)
on conflict (pipeline_name, target, unit_key) do update
    set
        status = 'failed',
        error = excluded.error,
        updated_at = now();
