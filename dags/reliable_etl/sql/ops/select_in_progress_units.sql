-- Units with a stage in progress, and the advisory lock each was written under.
select distinct
    cp.pipeline_name,
    cp.checkpoint_key,
    cp.lock_key
from ops.pipeline_checkpoint as cp
where cp.status = 'in_progress' and cp.lock_key is not null
order by cp.pipeline_name, cp.checkpoint_key;
