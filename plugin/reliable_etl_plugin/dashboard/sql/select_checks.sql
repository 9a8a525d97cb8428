-- The latest verdicts of every check (write-audit-publish: gold units, nightly files), newest first per check.
with ranked as (
    select
        r.pipeline_name,
        r.target,
        r.check_name,
        r.severity,
        r.unit_key,
        r.passed,
        r.published,
        r.details,
        r.run_id,
        r.checked_at,
        row_number() over (
            partition by r.pipeline_name, r.target, r.check_name
            order by r.checked_at desc, r.id desc
        ) as n
    from ops.check_results as r
)

select
    k.pipeline_name,
    k.target,
    k.check_name,
    k.severity,
    k.unit_key,
    k.passed,
    k.published,
    k.details,
    k.run_id,
    k.checked_at
from ranked as k
where k.n <= %(history)s
order by k.pipeline_name, k.target, k.check_name, k.n;
