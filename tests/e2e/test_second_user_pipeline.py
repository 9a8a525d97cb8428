"""The second user's pipeline (tests/example_pipeline/daily_customer_marts.py) through a real scheduler.

Every shape the public operators offer, in one pipeline over three real days of the sample: a
user's `EtlOperator` rebuilding a mart in a unit of work, a day-kind model and a table-files
operator with its own fingerprint, reset, DDL and checks, the two gold operators sharing the
pipeline name. Checked against independent GROUP BYs of silver:

1. the catch-up: both gold tables exact, a ledger row per day for each gold operator, the
   user's counts on the run's row, every check's verdict recorded;
2. run again: nothing written, both gold tasks skipped, no Asset event;
3. the model's SQL edited: its days republished ("logic changed"), the other operator untouched;
4. a mart that drifted from silver: the error check fails the task naming its numbers, nothing
   of the day is published, and the next run (which rebuilds the mart) publishes it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import psycopg
import pytest

from reliable_etl.retail.landing import split_export
from reliable_etl.retail.load import load_day
from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.testing import SAMPLE_CSV

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "example_pipeline"
DAG = "daily_customer_marts"
DAYS = ("2011-01-24", "2011-01-25", "2011-01-26")
COUNTRIES = """
    select sales_date, country, count(distinct customer_id)::bigint, sum(amount)::numeric(18, 3)
    from silver.fact_sales_daily
    where sales_date between '2011-01-24' and '2011-01-26' and customer_id is not null
    group by 1, 2 order by 1, 2
"""
TOTALS = """
    select sales_date, count(distinct customer_id)::bigint, sum(amount)::numeric(18, 3)
    from silver.fact_sales_daily
    where sales_date between '2011-01-24' and '2011-01-26' and customer_id is not null
    group by 1 order by 1
"""


def rows(conn: psycopg.Connection, table: str) -> list[tuple]:
    return conn.execute(f"select * from {table} order by 1, 2").fetchall()


def versions(conn: psycopg.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select xmin::text from gold.day_country_customers union all select xmin::text from gold.day_totals"
        ).fetchall()
    ]


def events(af: LocalAirflow) -> list[dict]:
    return af.api.request("GET", "/assets/events", params={"source_dag_id": DAG, "limit": 100})["asset_events"]


def rerun(af: LocalAirflow, days: tuple[str, ...] = DAYS) -> dict[str, dict[str, str | None]]:
    """Clear the runs of ``days`` and wait until they ran again; {day: {task: state}}."""
    runs = {r.logical_date.date().isoformat(): r for r in af.runs(DAG)}
    before = {day: runs[day].end_date for day in days}
    for day in days:
        af.api.clear_run(DAG, runs[day].run_id, only_failed=False)

    def done():
        now = {r.logical_date.date().isoformat(): r for r in af.runs(DAG)}
        finished = all(now[d].state in {"success", "failed"} and now[d].end_date != before[d] for d in days)
        return finished and now

    now = af.wait_until(done, 240, what="the runs again")
    return {day: af.task_states(DAG, now[day].run_id) for day in days}


@pytest.fixture
def warehouse(clean_retail: psycopg.Connection):
    def clean() -> None:
        clean_retail.execute("drop table if exists gold.day_country_customers, gold.day_totals")
        clean_retail.execute("drop schema if exists mart cascade")
        for table in ("ops.processed_units", "ops.pipeline_runs", "ops.check_results"):
            clean_retail.execute(f"delete from {table} where pipeline_name = 'customer_marts'")

    clean()
    yield clean_retail
    clean()


def test_the_second_users_pipeline_on_every_shape_of_the_operators(tmp_path, warehouse, airflow_metadata_db):
    conn = warehouse
    landing = tmp_path / "landing"
    split_export(SAMPLE_CSV, landing)
    for n in range(3):
        load_day(dt.date(2011, 1, 24) + dt.timedelta(days=n), run_id=f"second__{n}", landing_dir=landing)
    dags = tmp_path / "dags"  # a copy: step 3 edits its SQL
    dags.mkdir()
    shutil.copy(EXAMPLE / "daily_customer_marts.py", dags)
    shutil.copytree(EXAMPLE / "sql", dags / "sql")

    env = {"AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"], "ETL_HOME": str(tmp_path / "etl")}
    with LocalAirflow(tmp_path / "airflow", dags, env=env, metadata_db=airflow_metadata_db, retry_delay=0.5) as af:
        af.wait_parsed(DAG, timeout=120)
        af.unpause(DAG)
        af.wait_until(
            lambda: len(r := af.runs(DAG)) == 3 and all(x.state == "success" for x in r), 300, what="three days"
        )

        # 1. the catch-up: exact, a ledger row per operator and day, the user's counts, the checks
        assert rows(conn, "gold.day_country_customers") == conn.execute(COUNTRIES).fetchall()
        assert rows(conn, "gold.day_totals") == conn.execute(TOTALS).fetchall()
        ledger = conn.execute(
            "select target, unit_key, status from ops.processed_units where pipeline_name = 'customer_marts'"
            " order by 1, 2"
        ).fetchall()
        assert ledger == [
            (target, day, "completed") for target in ("gold.day_country_customers", "upsert_day_totals") for day in DAYS
        ]
        lines = dict(
            conn.execute(
                "select sales_date::text, count(*) from silver.fact_sales_daily"
                " where sales_date between '2011-01-24' and '2011-01-26' group by 1"
            ).fetchall()
        )
        run_rows = conn.execute(
            "select status, records_in, metadata->>'airflow_run_id' from ops.pipeline_runs"
            " where pipeline_name = 'customer_marts' order by started_at"
        ).fetchall()
        assert [(status, records_in) for status, records_in, _ in run_rows] == [("success", lines[d]) for d in DAYS]
        verdicts = conn.execute(
            "select unit_key, check_name, passed, published from ops.check_results"
            " where pipeline_name = 'customer_marts' order by id"
        ).fetchall()
        assert verdicts == [
            (day, check, True, True) for day in DAYS for check in ("net_matches_silver", "customers_present")
        ]
        assert sorted((e["name"], e["extra"]["unit"]) for e in events(af)) == sorted(
            (name, day) for name in ("gold.day_country_customers", "gold.day_totals") for day in DAYS
        )

        # 2. run again: nothing written, both gold tasks skipped, no Asset event
        written = versions(conn)
        states = rerun(af)
        tasks = ("build_mart", "publish_countries", "publish_totals")
        assert {d: tuple(s[t] for t in tasks) for d, s in states.items()} == dict.fromkeys(
            DAYS, ("success", "skipped", "skipped")
        )
        assert versions(conn) == written
        assert len(events(af)) == 6

        # 3. the model's SQL edited: its days republished for the logic, the table files untouched
        model = dags / "sql" / "customer_marts" / "day_country_customers.sql"
        model.write_text(model.read_text().replace("sum(m.net_amount)::numeric(18, 3)", "round(sum(m.net_amount))"))
        totals_before = conn.execute("select xmin::text from gold.day_totals order by 1").fetchall()
        states = rerun(af)
        assert {d: (s["publish_countries"], s["publish_totals"]) for d, s in states.items()} == dict.fromkeys(
            DAYS, ("success", "skipped")
        )
        assert conn.execute("select xmin::text from gold.day_totals order by 1").fetchall() == totals_before
        reasons = {e["extra"]["reason"] for e in events(af) if e["name"] == "gold.day_country_customers"}
        assert reasons == {"new", "logic changed"}
        assert all(net == round(net) for *_, net in rows(conn, "gold.day_country_customers"))

        # 4. a mart that drifted from silver: the error check holds the day back, naming its numbers
        conn.execute(
            "update mart.day_customers set net_amount = net_amount + 100"
            " where sales_date = '2011-01-25' and customer_id = (select min(customer_id) from mart.day_customers"
            " where sales_date = '2011-01-25')"
        )
        before = rows(conn, "gold.day_totals")
        run_id = {r.logical_date.date().isoformat(): r.run_id for r in af.runs(DAG)}["2011-01-25"]
        af.api.request(  # publish_totals alone, on the drifted mart (build_mart would rebuild it)
            "POST",
            f"/dags/{DAG}/clearTaskInstances",
            json={"dag_run_id": run_id, "task_ids": ["publish_totals"], "only_failed": False, "dry_run": False},
        )
        af.wait_until(  # failed at once, although retries=2: a failed check is not retried
            lambda: af.task_states(DAG, run_id).get("publish_totals") == "failed", 180, what="publish_totals failed"
        )
        error = conn.execute(
            "select error from ops.pipeline_runs where pipeline_name = 'customer_marts'"
            " and metadata->>'airflow_run_id' = %s",
            (run_id,),
        ).fetchone()[0]
        assert "net_matches_silver failed (error): gold_net_amount=" in error
        assert "nothing of it was published" in error
        assert rows(conn, "gold.day_totals") == before  # nothing of the day published
        assert len(events(af)) == 6 + 3  # no event for it
        states = rerun(af, ("2011-01-25",))  # the whole run: the mart rebuilt from silver first
        assert states["2011-01-25"]["publish_totals"] in {"success", "skipped"}
        assert rows(conn, "gold.day_totals") == conn.execute(TOTALS).fetchall()
