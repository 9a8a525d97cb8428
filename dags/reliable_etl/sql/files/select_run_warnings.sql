-- The failed warning checks of one run's loaded files (loaded all the same, to be reported).
select
    r.unit_key as file_name,
    r.target,
    r.check_name,
    r.severity,
    r.details
from ops.check_results as r
where
    r.pipeline_name = %(pipeline_name)s
    and r.run_id = %(run_id)s
    and r.published
    and not r.passed
order by r.id asc;
