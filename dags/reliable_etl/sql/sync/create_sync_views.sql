-- Views over the sync state: per-entity progress and the recovery metrics.

-- One row per entity: where it stands, what it cost, what went wrong, when it resumes.
create or replace view ops.sync_progress as
select
    j.service,
    j.entity,
    j.status,
    j.needs_attention,
    j.mode,
    j.phase,
    j.cursor,
    j.keyset_ts,
    j.page_size,
    j.pages,
    j.items,
    j.skipped,
    j.warnings,
    j.api_cost,
    j.rate_remaining,
    j.last_error,
    j.next_retry_at,
    j.pass_started_at,
    j.last_sync_at,
    j.api_count,
    j.db_count,
    j.total_processed,
    -- a running full pass knows how many items the API holds: extrapolate its pace
    case
        when
            j.status = 'RUNNING' and j.mode = 'full' and j.phase = 'walk'
            and j.items > 0 and j.api_count > j.items
            then round(
                extract(epoch from clock_timestamp() - j.pass_started_at)
                * (j.api_count - j.items) / j.items
            )
    end as eta_seconds,
    j.updated_at
from ops.sync_jobs as j;

-- Recoveries: every FAILED -> PENDING transition. A recovery succeeded when the entity's
-- next outcome after it is FINISHED (not another failure); its time runs from the failure
-- to that FINISHED. Data consistency: the share of entities whose last reconciliation
-- found the API's count equal to ours.
create or replace view ops.sync_recovery_metrics as
with failures as (
    select
        f.service,
        f.entity,
        f.at as failed_at,
        (
            select min(r.at) from ops.sync_transitions as r
            where
                r.service = f.service and r.entity = f.entity
                and r.from_status = 'FAILED' and r.to_status = 'PENDING' and r.at >= f.at
        ) as recovery_at,
        (
            select min(o.at) from ops.sync_transitions as o
            where
                o.service = f.service and o.entity = f.entity
                and o.to_status in ('FINISHED', 'FAILED') and o.at > f.at
        ) as outcome_at
    from ops.sync_transitions as f
    where f.to_status = 'FAILED'
),

recoveries as (
    select
        fl.service,
        fl.failed_at,
        fl.recovery_at,
        t.to_status = 'FINISHED' as succeeded,
        t.at as finished_at
    from failures as fl
    left join ops.sync_transitions as t
        on
            fl.service = t.service and fl.entity = t.entity and fl.outcome_at = t.at
            and t.to_status in ('FINISHED', 'FAILED')
    where fl.recovery_at is not null
),

consistency as (
    select
        service,
        count(*) filter (where api_count is not null) as reconciled,
        count(*) filter (where api_count = db_count) as consistent
    from ops.sync_jobs
    group by service
)

select
    c.service,
    count(r.recovery_at) as total_recoveries,
    count(*) filter (where r.succeeded) as successful_recoveries,
    round(avg(extract(epoch from r.finished_at - r.failed_at)) filter (where r.succeeded)::numeric, 3)
        as avg_recovery_seconds,
    c.reconciled as entities_reconciled,
    c.consistent as entities_consistent,
    round(c.consistent::numeric / nullif(c.reconciled, 0), 4) as data_consistency
from consistency as c
left join recoveries as r on c.service = r.service
group by c.service, c.reconciled, c.consistent;
