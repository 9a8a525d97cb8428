-- Per service: recoveries after failures, their success and duration, and data consistency.
select
    m.service,
    m.total_recoveries,
    m.successful_recoveries,
    m.avg_recovery_seconds::double precision as avg_recovery_seconds,
    m.entities_reconciled,
    m.entities_consistent,
    m.data_consistency::double precision as data_consistency
from ops.sync_recovery_metrics as m
order by m.service;
