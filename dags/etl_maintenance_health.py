"""
### etl_maintenance_health: every 30 minutes, are the services up

**health_check** probes the warehouse (PostgreSQL), Redis (Connection `redis_default`, the
Celery broker where there is one), the DuckDB analytics file (read-only: a writer's lock counts
as "in use", not down), disk and memory use. The result (XCom, `ops.maintenance_runs`, and
`<ETL_REDIS_KEY_PREFIX>health:latest` in Redis with a TTL) is
`{timestamp, postgres, redis, duckdb, disk_space {percent}, memory_usage {percent}, errors}`.

A service that is down is a WARNING and a `false` in the result, never a failed task. Each
component is an alert condition (`health:redis`, ...): after `ETL_ALERT_AFTER_FAILURES`
failing checks in a row (default 2) one Slack / Teams / email message, and one when it recovers.

The maintenance DAGs are one per cadence (`etl_maintenance_health`, `_daily`, `_weekly`): an
Airflow DAG has one schedule, and one DAG every 30 minutes would skip its daily and weekly
tasks 47 times in 48.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, task

from reliable_etl.tasks import task_defaults


@dag(
    schedule=CronTriggerTimetable("*/30 * * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(minutes=25),
    description="Every 30 minutes: warehouse, Redis, DuckDB file, disk and memory",
    doc_md=__doc__,
    tags=["maintenance", "health"],
    default_args=task_defaults(retries=0),  # the next check is 30 minutes away
)
def etl_maintenance_health() -> None:
    @task(multiple_outputs=False, execution_timeout=dt.timedelta(minutes=5))
    def health_check(run_id=None) -> dict:
        from reliable_etl.maintenance.tasks import run_job

        return run_job("health_check", run_id=run_id)

    health_check()


etl_maintenance_health()
