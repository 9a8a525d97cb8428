-- The latest committed silver checkpoint of each day, in commit order.
with latest as (
    select distinct on (checkpoint_key)
        checkpoint_key,
        end_time,
        (metadata ->> 'accepted')::bigint as accepted
    from ops.pipeline_checkpoint
    where pipeline_name = 'retail' and stage = 'silver' and status = 'completed'
    order by checkpoint_key asc, end_time desc
)

select
    latest.checkpoint_key as day,
    latest.accepted as row_count,
    coalesce(f.row_count - latest.accepted, 0) as rejected,
    latest.end_time
from latest
left join bronze.retail_files as f on latest.checkpoint_key = f.business_date::text
order by latest.end_time;
