-- A unit's row from before targets (target '') becomes its publisher's, unless it has one already.
update ops.processed_units as p
set target = %(target)s
where
    p.pipeline_name = %(pipeline_name)s
    and p.unit_key = %(unit_key)s
    and p.target = ''
    and not exists (
        select 1 from ops.processed_units as own
        where own.pipeline_name = p.pipeline_name and own.unit_key = p.unit_key and own.target = %(target)s
    );
