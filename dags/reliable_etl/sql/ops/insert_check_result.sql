-- One check's verdict on one unit (in the unit's transaction when it was published).
insert into ops.check_results (
    pipeline_name, target, unit_key, check_name, severity, passed, published, details, run_id
)
values (
    %(pipeline_name)s, %(target)s, %(unit_key)s, %(check_name)s, %(severity)s, %(passed)s, %(published)s,
    %(details)s::json, %(run_id)s
);
