"""
### weekly_country_sales: a team's own gold table, built on the bundle's public operators

An example of "Build your own pipeline on the bundle" (README): weekly net sales per country
from `silver.fact_sales_daily`, with one operator and one SQL file (`sql/weekly_country_sales.sql`,
a SELECT of the week's rows). Each run publishes the week of its data interval as one unit:
in one transaction under the week's advisory lock, with its row in `ops.processed_units`;
an unchanged week writes nothing and emits no Asset event; a changed silver day recomputes
its week only. Kept under tests/, so it never appears in a user's Airflow.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.sdk import Asset, CronDataIntervalTimetable, dag

from reliable_etl.operators import GoldUpsertOperator

WEEKLY = Asset(name="gold.weekly_country_sales", group="example")


@dag(
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),  # Mondays: the week before
    start_date=dt.datetime(2011, 1, 24, 3, tzinfo=dt.UTC),
    end_date=dt.datetime(2011, 1, 31, 3, tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=1,
    description="Example: weekly sales per country, one GoldUpsertOperator and one SQL file",
    doc_md=__doc__,
    tags=["example"],
    default_args={"owner": "analytics", "retries": 0},
)
def weekly_country_sales() -> None:
    GoldUpsertOperator(
        task_id="publish_week",
        pipeline="weekly_country_sales",
        kind="key",
        unit="{{ data_interval_start | ds }}",  # the Monday the week starts
        model_sql="weekly_country_sales",
        target="gold.weekly_country_sales",
        key=["week_start", "country"],
        unit_column="week_start",
        sql_dir=str(Path(__file__).parent / "sql"),
        outlets=[WEEKLY],
    )


weekly_country_sales()
