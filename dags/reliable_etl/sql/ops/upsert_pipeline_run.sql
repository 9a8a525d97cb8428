-- Open, update or close a run. Counts given as null keep the stored value.
insert into ops.pipeline_runs as runs (
    pipeline_name, run_id, status, ended_at, duration_ms,
    records_in, records_out, records_rejected, error, metadata
)
values (
    %(pipeline_name)s, %(run_id)s, %(status)s,
    case when %(status)s <> 'running' then clock_timestamp() end,
    case when %(status)s <> 'running' then 0 end,
    coalesce(%(records_in)s, 0), coalesce(%(records_out)s, 0), coalesce(%(records_rejected)s, 0),
    %(error)s, %(metadata)s::jsonb
)
on conflict (pipeline_name, run_id) do update
    set
        status = excluded.status,
        started_at = case
            when runs.status <> 'running' and excluded.status = 'running' then clock_timestamp()
            else runs.started_at
        end,
        ended_at = excluded.ended_at,
        duration_ms = case
            when excluded.status <> 'running'
                then (extract(epoch from clock_timestamp() - runs.started_at) * 1000)::bigint
        end,
        records_in = coalesce(%(records_in)s, runs.records_in),
        records_out = coalesce(%(records_out)s, runs.records_out),
        records_rejected = coalesce(%(records_rejected)s, runs.records_rejected),
        error = excluded.error,
        metadata = runs.metadata || excluded.metadata;
