"""
### etl_analytics_mirror: after gold changes, mirror it into the DuckDB analytics file

Scheduled on the gold Assets (`gold.fact_sales_monthly`, `gold.fact_product_performance`,
`gold.fact_country_sales`), which `retail_daily` and `retail_gold_rebuild` emit only when
gold changed. **mirror** reads every table of `ETL_ANALYTICS_SCHEMAS` in one snapshot, builds a
new DuckDB file and renames it over `ETL_ANALYTICS_PATH` (default `$ETL_HOME/analytics.duckdb`):
analysts' readers see the old mirror or the new one, never half of one. If someone holds the
file open read-write it is left alone (`skipped`) until the next gold change.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from reliable_etl.retail.assets import GOLD_ASSETS
from reliable_etl.tasks import task_defaults


@dag(
    schedule=GOLD_ASSETS,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    description="On gold changes: gold mirrored into a DuckDB file, swapped in atomically",
    doc_md=__doc__,
    tags=["maintenance", "analytics"],
    default_args=task_defaults(),
)
def etl_analytics_mirror() -> None:
    @task(multiple_outputs=False)  # one XCom: the summary
    def mirror(run_id=None) -> dict:
        from reliable_etl.maintenance.tasks import run_job

        return run_job("analytics_mirror", run_id=run_id)

    mirror()


etl_analytics_mirror()
