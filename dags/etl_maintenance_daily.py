"""
### etl_maintenance_daily: 03:30 UTC, back up the critical schemas and apply the retention

1. **backup_critical_data**: `pg_dump -Fc` of `ETL_BACKUP_SCHEMAS` (ops, gold) from one snapshot
   into `ETL_BACKUP_DIR/backup_<time>/` with a manifest (tables, row counts, sha256, versions),
   verified with `pg_restore --list`; the newest `ETL_BACKUP_KEEP` are kept. Restore with
   `etl backup restore DIR --into URI`. Result: `{status, backup_location, files_created,
   postgres_available, errors}`.
2. **cleanup_old_data** (beside the backup, independent of it: what it deletes is older than
   the retention, so yesterday's backup holds it too): retention per target
   (`ETL_RETENTION_*_DAYS`): pipeline logs, superseded checkpoints, health results, rejected
   rows, sync transitions, the file archive, this bundle's Redis keys. With PostgreSQL down it
   goes on with Redis and the archive, and the other way round. Result: `{status,
   database_records_cleaned, redis_keys_cleaned, postgres_available, total_cleaned}`.

A service that is down is a WARNING and a partial result; only an unexpected error fails a
task. Failed or partial runs notify once (`job:<task>`), and once when they succeed again.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, task

from reliable_etl.tasks import task_defaults


@dag(
    schedule=CronTriggerTimetable("30 3 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    description="03:30 UTC: pg_dump of ops and gold with a verified manifest; retention",
    doc_md=__doc__,
    tags=["maintenance", "daily"],
    default_args=task_defaults(),
)
def etl_maintenance_daily() -> None:
    @task(multiple_outputs=False)  # one XCom: the summary
    def backup_critical_data(run_id=None) -> dict:
        from reliable_etl.maintenance.tasks import run_job

        return run_job("backup_critical_data", run_id=run_id)

    @task(multiple_outputs=False)  # one XCom: the summary
    def cleanup_old_data(run_id=None) -> dict:
        from reliable_etl.maintenance.tasks import run_job

        return run_job("cleanup_old_data", run_id=run_id)

    backup_critical_data()
    cleanup_old_data()


etl_maintenance_daily()
