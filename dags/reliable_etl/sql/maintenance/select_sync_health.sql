-- Every sync job with what the watchdog judges: its state, its last finished pass, and whether
-- a worker holds its session lock (a RUNNING job without one lost its worker: stuck).
with jobs as (
    select
        j.*,
        hashtextextended('sync:' || j.service || ':' || j.entity, 0) as lock_key
    from ops.sync_jobs as j
),

held as (
    select distinct
        l.classid,
        l.objid
    from pg_locks as l
    where l.locktype = 'advisory' and l.granted and l.objsubid = 1
)

select
    jobs.service,
    jobs.entity,
    jobs.status,
    jobs.needs_attention,
    jobs.last_sync_at,
    jobs.next_retry_at,
    jobs.last_error,
    jobs.status_changed_at,
    held.objid is not null as worker_holds_lock
from jobs
left join held
    on
        ((jobs.lock_key >> 32) & 4294967295)::oid = held.classid
        and (jobs.lock_key & 4294967295)::oid = held.objid
order by jobs.service, jobs.entity;
