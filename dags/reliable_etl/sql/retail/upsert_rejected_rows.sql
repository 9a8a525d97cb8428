-- The day's rejects replace the previous ones of the same day; unchanged rows are not rewritten.
with current_rejects as (
    select
        %(source)s::text as source,
        line,
        raw,
        reject_reason
    from retail_day_rows
    where reject_reason is not null
),

removed as (
    delete from ops.rejected_rows as r
    where
        r.pipeline_name = 'retail'
        and r.unit_key = %(day)s::text
        and not exists (
            select 1 from current_rejects as c
            where c.source = r.source and c.line = r.line
        )
    returning 1
),

written as (
    insert into ops.rejected_rows as r (pipeline_name, source, line, raw, reason, unit_key, run_id)
    select
        'retail' as pipeline_name,
        c.source,
        c.line,
        c.raw,
        c.reject_reason,
        %(day)s::text as unit_key,
        %(run_id)s::text as run_id
    from current_rejects as c
    on conflict (pipeline_name, source, line) do update
        set
            raw = excluded.raw,
            reason = excluded.reason,
            unit_key = excluded.unit_key,
            run_id = excluded.run_id,
            rejected_at = now()
        where (r.raw, r.reason, r.unit_key) is distinct from (excluded.raw, excluded.reason, excluded.unit_key)
    returning 1
)

select
    (select count(*) from removed) as deleted,
    (select count(*) from written) as written;
