"""
### files_nightly: the night's fixed-width files, each loaded all or nothing, with snapshots

Layouts come from `relationships.json` (`ETL_FILES_RELATIONSHIPS`); files from the drop
directory (`ETL_FILES_DROP_DIR`). At 02:00 UTC:

1. **wait_for_files** waits for one file per declared name without holding a worker slot
   (reschedule mode); `ETL_FILES_WAIT_HOURS` later it fails naming the files that never came.
2. **load_file**, one mapped task per file: parse and validate by the layout (rejects to
   `ops.rejected_rows` with line and reason); above `ETL_FILES_REJECT_THRESHOLD` nothing of the
   file is loaded. Else, in one transaction: staged, checked for duplicate keys, the previous
   table kept as a snapshot, the new one swapped in. The same bytes again are a no-op. The file
   then moves to `ETL_FILES_ARCHIVE_DIR/<date>/`. Bad input fails the task without retries.
3. **report** (whatever happened): the run in `ops.pipeline_runs`, and one Slack / Teams / email
   notification (Connections `notify_slack`, `notify_teams`, `notify_email`, each optional):
   success, warning (loaded with rejects) or error. A failed notification never fails the run.
   After notifying, if a file failed, was refused or never came, report fails (without retries,
   so without a second notification) naming them, and with it the run: its state is the truth.

Undo a night: `etl files rollback --table T [--to SNAPSHOT]`. Health: `etl files status`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, PokeReturnValue, dag, task

from reliable_etl.maintenance.alerts import files_deadline
from reliable_etl.tasks import task_defaults


@dag(
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    description="02:00 UTC: the night's fixed-width files, each loaded all or nothing, then one report",
    doc_md=__doc__,
    deadline=files_deadline(),
    tags=["files", "nightly"],
    default_args=task_defaults(),
)
def files_nightly() -> None:
    @task
    def ensure_schema() -> list[str]:
        from reliable_etl.ops import init_schema

        return init_schema()

    @task.sensor(mode="reschedule", poke_interval=300, timeout=24 * 3600)
    def wait_for_files(run_id=None, logical_date=None) -> PokeReturnValue:
        from reliable_etl.files.tasks import poke_for_files

        return poke_for_files(run_id=run_id, logical_date=logical_date)

    @task(multiple_outputs=False)  # one XCom: the summary
    def load_file(path: str, run_id=None) -> dict:
        from reliable_etl.files.tasks import load_one

        return load_one(path, run_id=run_id)

    @task(
        multiple_outputs=False, trigger_rule="all_done"
    )  # reports failures too, then fails the run if a file failed or never came
    def report(run_id=None, dag_run=None, ti=None) -> dict:
        from reliable_etl.files.tasks import report_run

        found = ti.xcom_pull(task_ids="wait_for_files") if ti else None
        return report_run(run_id=run_id, started=dag_run.start_date if dag_run else None, found=found)

    files = wait_for_files()
    ensure_schema() >> files
    load_file.expand(path=files) >> report()


files_nightly()
