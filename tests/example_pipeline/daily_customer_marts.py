"""
### daily_customer_marts: a second team's pipeline, on every shape the public operators offer

The "second user" of docs/operators.md: one pipeline (`customer_marts`), three tasks per day of
silver, kept under tests/ so that it never appears in a user's Airflow.

1. **build_mart**, a user's `EtlOperator`: rebuilds the day's rows of `mart.day_customers` (per
   customer and country) inside `unit_of_work`, and records its counts on the run's ledger row.
2. **publish_countries**, a day-kind `GoldUpsertOperator` with a **model**: customers and net
   amount per country, from the mart.
3. **publish_totals**, a day-kind `GoldUpsertOperator` with **table files**: its own
   `fingerprint_sql`, `reset_sql` and `create_sql` (two statements), and **checks**: the day's
   net amount against silver's (error) and customers present (warning).

The two gold operators share the pipeline name: each keeps its own ledger row per day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow.sdk import Asset, CronDataIntervalTimetable, dag

from reliable_etl.operators import EtlOperator, GoldUpsertOperator

SQL = str(Path(__file__).parent / "sql" / "customer_marts")
PIPELINE = "customer_marts"


class BuildDayCustomers(EtlOperator):
    """The day's customers from silver, rebuilt in one unit of work with its checkpoint."""

    def run(self, context) -> dict:
        day = context["data_interval_start"].date()
        with self.unit_of_work(context, day.isoformat()) as unit, unit.stage("mart") as cp:
            unit.conn.execute(Path(SQL, "create_mart.sql").read_text())
            unit.conn.execute("delete from mart.day_customers where sales_date = %s", (day,))
            written = unit.conn.execute(Path(SQL, "insert_mart_day.sql").read_text(), {"day": day}).rowcount
            lines = unit.conn.execute(
                "select count(*) from silver.fact_sales_daily where sales_date = %s", (day,)
            ).fetchone()[0]
            cp.metadata.update(lines=lines, customers=written)
        self.ledger.update(records_in=lines, records_out=written)
        return {"day": day.isoformat(), "customers": written}


@dag(
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    start_date=dt.datetime(2011, 1, 24, 3, tzinfo=dt.UTC),
    end_date=dt.datetime(2011, 1, 26, 3, tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=1,
    description="Example: a day's customer mart and two gold tables, every shape of the public operators",
    doc_md=__doc__,
    tags=["example"],
    default_args={"owner": "analytics", "retries": 2},
)
def daily_customer_marts() -> None:
    mart = BuildDayCustomers(task_id="build_mart", pipeline=PIPELINE, closes_run=False)
    countries = GoldUpsertOperator(
        task_id="publish_countries",
        pipeline=PIPELINE,
        kind="day",  # the unit: the day of the data interval
        model_sql="day_country_customers",
        target="gold.day_country_customers",
        key=["sales_date", "country"],
        unit_column="sales_date",
        sql_dir=SQL,
        closes_run=False,
        outlets=[Asset(name="gold.day_country_customers", group="example")],
    )
    totals = GoldUpsertOperator(
        task_id="publish_totals",
        pipeline=PIPELINE,
        kind="day",
        tables=["upsert_day_totals"],
        fingerprint_sql="day_totals_fingerprint",
        reset_sql="delete_day_totals",
        create_sql="create_day_totals",
        checks=[
            {"name": "net_matches_silver", "sql": "check_net_matches_silver"},
            {"name": "customers_present", "sql": "check_customers_present", "severity": "warning"},
        ],
        sql_dir=SQL,
        outlets=[Asset(name="gold.day_totals", group="example")],
    )
    mart >> countries >> totals


daily_customer_marts()
