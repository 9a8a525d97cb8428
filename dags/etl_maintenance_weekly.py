"""
### etl_maintenance_weekly: Sundays 04:00 UTC, VACUUM (ANALYZE) and REINDEX by statistics

**optimize_database** picks tables from `pg_stat_user_tables` (dead tuples above autovacuum's
rule `50 + 0.2 * reltuples`, never analyzed, modified since the last analyze) for
`VACUUM (ANALYZE, SKIP_LOCKED, TRUNCATE false)`, and rebuilds B-tree indexes far larger than
their estimate with `REINDEX INDEX CONCURRENTLY` (autocommit). Every statement runs under
`ETL_OPTIMIZE_LOCK_TIMEOUT_MS`; nothing blocks writers. Autovacuum is off on some servers:
there this job keeps statistics current. Result: `{status, successful_operations,
failed_operations, total_operations, success_rate}`, and each operation with its reason.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, task

from reliable_etl.tasks import task_defaults


@dag(
    schedule=CronTriggerTimetable("0 4 * * 0", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    description="Sundays 04:00 UTC: VACUUM (ANALYZE) and REINDEX CONCURRENTLY where the statistics say so",
    doc_md=__doc__,
    tags=["maintenance", "weekly"],
    default_args=task_defaults(),
)
def etl_maintenance_weekly() -> None:
    @task(multiple_outputs=False)  # one XCom: the summary
    def optimize_database(run_id=None) -> dict:
        from reliable_etl.maintenance.tasks import run_job

        return run_job("optimize_database", run_id=run_id)

    optimize_database()


etl_maintenance_weekly()
