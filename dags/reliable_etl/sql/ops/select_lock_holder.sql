-- Who holds the advisory lock of a unit of work (bigint key split into classid/objid).
with lock_key as (
    select hashtextextended(%(key)s, 0) as k
)

select
    activity.pid,
    coalesce(nullif(activity.application_name, ''), activity.usename::text) as holder,
    coalesce(activity.xact_start, activity.backend_start) as since
from pg_locks as locks
cross join lock_key
inner join pg_stat_activity as activity on locks.pid = activity.pid
where
    locks.locktype = 'advisory'
    and locks.granted
    and locks.classid = ((lock_key.k >> 32) & 4294967295)::oid
    and locks.objid = (lock_key.k & 4294967295)::oid
    and locks.objsubid = 1
order by since
limit 1;
