-- One batch of check verdicts older than the cutoff that a newer verdict of the same check on the
-- same unit supersedes: the latest verdict of every check and unit stays, whatever its age.
delete from ops.check_results
where id in (
    select r.id from ops.check_results as r
    where
        r.checked_at < %(cutoff)s
        and exists (
            select 1 from ops.check_results as newer
            where
                newer.pipeline_name = r.pipeline_name
                and newer.target = r.target
                and newer.check_name = r.check_name
                and newer.unit_key = r.unit_key
                and newer.id > r.id
        )
    order by r.id
    limit %(batch_size)s
);
