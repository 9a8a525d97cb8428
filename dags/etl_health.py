"""
### etl_health: every 6 hours, is each pipeline's data current; if retail is behind, repair it

**watchdog** reads the warehouse, then Airflow's REST API (Connection `airflow_api`):

- `retail_daily`: days without silver data from `ETL_RETAIL_START_DATE` through the last day
  due (`ETL_WATCHDOG_GRACE_HOURS` after its run); failed runs, runs blocked behind them,
  successful runs whose data is gone, days whose run the scheduler never created.
  **Repair**: those runs are cleared, the missing runs created, then the code of
  `etl recover` clears the failed day and re-queues the blocked ones: the scheduler runs the
  days in order. A paused DAG is reported, not unpaused.
- `engineering_sync`: per entity the last finished pass; stuck, failed, paused, needing attention.
- `files_nightly`: the last successful night.

Runs a dead process left "running" are closed first. Result per pipeline: `{status, last_data_date,
days_behind, action, details}`; `etl health` prints the same (`--repair` to act). An unhealthy
pipeline notifies once (`watchdog:<dag>`), and once when it is healthy again.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, dag, task

from reliable_etl.tasks import task_defaults


@dag(
    schedule=CronTriggerTimetable("0 */6 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    description="Every 6 hours: freshness of retail, syncs and files; retail's catch-up repaired",
    doc_md=__doc__,
    tags=["maintenance", "health"],
    default_args=task_defaults(retries=1),
)
def etl_health() -> None:
    @task(multiple_outputs=False)  # one XCom: the summary
    def watchdog(run_id=None) -> dict:
        from reliable_etl.maintenance.tasks import run_job

        return run_job("watchdog", run_id=run_id)

    watchdog()


etl_health()
