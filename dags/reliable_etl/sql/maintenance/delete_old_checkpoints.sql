-- One batch of finished checkpoints older than the cutoff that a newer row of the same unit
-- and stage supersedes: the latest checkpoint of every unit stays, whatever its age.
delete from ops.pipeline_checkpoint
where id in (
    select cp.id from ops.pipeline_checkpoint as cp
    where
        cp.status in ('completed', 'failed')
        and coalesce(cp.end_time, cp.start_time) < %(cutoff)s
        and exists (
            select 1 from ops.pipeline_checkpoint as newer
            where
                newer.pipeline_name = cp.pipeline_name
                and newer.stage = cp.stage
                and newer.checkpoint_key = cp.checkpoint_key
                and newer.start_time > cp.start_time
        )
    order by cp.id
    limit %(batch_size)s
);
