-- Every synced entity's progress, for `etl sync status`.
select
    service,
    entity,
    status,
    needs_attention,
    mode,
    phase,
    pages,
    items,
    skipped,
    warnings,
    api_cost,
    rate_remaining,
    api_count,
    db_count,
    eta_seconds,
    next_retry_at,
    last_sync_at,
    last_error
from ops.sync_progress
where %(service)s::text is null or service = %(service)s
order by service, entity;
