"""
### retail_daily: one calendar day of retail sales per run, strictly in order

For day D (the run's data interval starts at D 02:00 UTC; the run starts at D+1 02:00 UTC):

1. **wait_for_landing_file** waits for `retail_D.csv` in the landing directory without
   holding a worker slot (reschedule mode); past the deadline it fails naming the file.
2. **load_day**: bronze (COPY, day D replaced atomically, sha256 kept: the same file again is
   a no-op) -> validation (rejects to `ops.rejected_rows`; above the reject threshold the run
   fails and nothing of D is committed) -> `silver.fact_sales_daily` upserted for D. One
   transaction, checkpoints inside it.
3. **publish_gold**: when D closes its month, or D belongs to a month already published, the
   month's gold tables and its `ops.processed_months` row are upserted in one transaction if
   the month's silver fingerprint changed. Skipped otherwise (no Asset event).

catchup=True, max_active_runs=1, depends_on_past: a failed day blocks every later day.
Fix the cause, then `etl recover retail_daily` (clearing in the UI deadlocks: apache/airflow#29524).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, PokeReturnValue, chain, dag, task
from airflow.sdk.exceptions import AirflowFailException

from reliable_etl.config import settings
from reliable_etl.maintenance.alerts import retail_deadline
from reliable_etl.operators import GoldUpsertOperator
from reliable_etl.retail import RETAIL_GOLD_ARGS
from reliable_etl.retail.assets import GOLD_ASSETS
from reliable_etl.tasks import day_of, fail_fast_on_bad_input, task_defaults

cfg = settings()


@dag(
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=dt.datetime.combine(cfg.retail_start_date, dt.time(2), dt.UTC),
    end_date=dt.datetime.combine(cfg.retail_end_date, dt.time(2), dt.UTC) if cfg.retail_end_date else None,
    catchup=True,
    max_active_runs=1,
    description="One calendar day of retail sales per run, strictly in order: bronze, silver, gold",
    doc_md=__doc__,
    deadline=retail_deadline(),
    tags=["retail", "daily"],
    default_args=task_defaults(depends_on_past=True, retry_delay=dt.timedelta(seconds=30)),
)
def retail_daily() -> None:
    @task.sensor(mode="reschedule", poke_interval=cfg.retail_poke_seconds, timeout=24 * 3600)
    def wait_for_landing_file(data_interval_start=None, data_interval_end=None) -> PokeReturnValue:
        from reliable_etl.retail.landing import landing_path

        path = landing_path(cfg.retail_landing_dir, day_of(data_interval_start))
        deadline = data_interval_end + dt.timedelta(hours=cfg.retail_file_wait_hours)
        if not path.exists() and dt.datetime.now(dt.UTC) > deadline:
            raise AirflowFailException(f"landing file {path} did not arrive by {deadline:%Y-%m-%d %H:%M} UTC")
        return PokeReturnValue(is_done=path.exists(), xcom_value=str(path))

    @task(multiple_outputs=False)  # one XCom: the summary
    @fail_fast_on_bad_input
    def load_day(run_id=None, data_interval_start=None) -> dict:
        from reliable_etl.ops import init_schema
        from reliable_etl.retail.load import load_day

        init_schema()
        return load_day(day_of(data_interval_start), run_id=run_id).as_dict()

    publish_gold = GoldUpsertOperator(
        task_id="publish_gold",
        **RETAIL_GOLD_ARGS,
        unit="{{ data_interval_start.strftime('%Y-%m') }}",  # day D's month: published once D closes it
        outlets=GOLD_ASSETS,
    )

    chain(wait_for_landing_file(), load_day(), publish_gold)


retail_daily()
