-- Every sync job: its state, the pass under way (phase, cursor position, pages), cost and errors.
select
    p.service,
    p.entity,
    p.status,
    p.needs_attention,
    p.mode,
    p.phase,
    p.cursor,
    p.keyset_ts,
    p.page_size,
    p.pages,
    p.items,
    p.skipped,
    p.warnings,
    p.api_cost,
    p.rate_remaining,
    p.total_processed,
    p.api_count,
    p.db_count,
    p.eta_seconds,
    p.last_error,
    p.next_retry_at,
    p.pass_started_at,
    p.last_sync_at,
    p.updated_at
from ops.sync_progress as p
order by p.service, p.entity;
