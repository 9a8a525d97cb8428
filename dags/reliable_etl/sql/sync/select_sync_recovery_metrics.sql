-- Recovery metrics per service, for `etl sync metrics`.
select
    service,
    total_recoveries,
    successful_recoveries,
    avg_recovery_seconds,
    entities_reconciled,
    entities_consistent,
    data_consistency
from ops.sync_recovery_metrics
order by service;
