-- The last days whose silver stage committed, in commit order (oldest of them first).
select
    recent.checkpoint_key as day,
    recent.end_time as committed_at
from (
    select
        cp.checkpoint_key,
        cp.end_time
    from ops.pipeline_checkpoint as cp
    where cp.pipeline_name = 'retail' and cp.stage = 'silver' and cp.status = 'completed'
    order by cp.end_time desc
    limit %(batch_size)s
) as recent
order by recent.end_time;
