"""A team's own gold table on the bundle's public operators, through a real Airflow scheduler.

tests/example_pipeline/weekly_country_sales.py (one GoldUpsertOperator, one SQL file) over the
sample's two weeks: the first runs compute both weeks; cleared and run again they write 0 rows
and emit no Asset event; a changed silver day recomputes its week only; a SIGKILL inside the
unit (`airflow dags test` with a failpoint armed) leaves the table as it was, and the next run
converges and closes the killed run as lost.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from reliable_etl.retail.landing import landing_path, split_export
from reliable_etl.retail.load import load_day
from reliable_etl_dev.airflow_local import AIRFLOW_BIN, LocalAirflow
from reliable_etl_dev.testing import SAMPLE_CSV, table_fingerprint

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "example_pipeline"
DAG = "weekly_country_sales"
WEEKS = ("2011-01-24", "2011-01-31")
TABLE = "gold.weekly_country_sales"

EXPECTED = """
    select date_trunc('week', sales_date)::date as week_start, country, count(*)::bigint,
           count(distinct invoice_no)::bigint, sum(amount)::numeric(18, 3)
    from silver.fact_sales_daily where sales_date between '2011-01-24' and '2011-02-06'
    group by 1, 2 order by 1, 2
"""


def table(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(f"select * from {TABLE} order by week_start, country").fetchall()


def week_versions(conn: psycopg.Connection, week: str) -> list[str]:
    """The row versions (xmin) of one week: unchanged means not rewritten."""
    rows = conn.execute(f"select xmin::text from {TABLE} where week_start = %s order by country", (week,))
    return [r[0] for r in rows]


def events(af: LocalAirflow) -> list[dict]:
    return af.api.request("GET", "/assets/events", params={"source_dag_id": DAG, "limit": 100})["asset_events"]


def rerun_all(af: LocalAirflow) -> dict[str, str]:
    """Clear every run of the DAG and wait until they ran again; {week: publish_week state}."""
    before = {r.run_id: r.end_date for r in af.runs(DAG)}
    for run_id in before:
        af.api.clear_run(DAG, run_id, only_failed=False)

    def done():
        runs = af.runs(DAG)
        return all(r.state in {"success", "failed"} and r.end_date != before.get(r.run_id) for r in runs) and runs

    runs = af.wait_until(done, 180, what="the runs again")
    return {r.logical_date.date().isoformat(): af.task_states(DAG, r.run_id)["publish_week"] for r in runs}


@pytest.fixture
def warehouse(clean_retail: psycopg.Connection):
    """The retail tables empty, and at the end as this test found them: other tests share the database."""
    clean_retail.execute(f"drop table if exists {TABLE}")
    clean_retail.execute("delete from ops.processed_units where pipeline_name = %s", (DAG,))
    yield clean_retail
    clean_retail.execute(f"drop table if exists {TABLE}")
    clean_retail.execute(
        "truncate bronze.retail_sales, bronze.retail_files, silver.fact_sales_daily, silver.day_fingerprint,"
        " ops.pipeline_checkpoint, ops.pipeline_runs, ops.rejected_rows"
    )


def test_a_weekly_gold_table_built_on_the_public_operators(tmp_path, warehouse, airflow_metadata_db):
    conn = warehouse
    landing = tmp_path / "landing"
    split_export(SAMPLE_CSV, landing)
    for n in range(14):
        load_day(dt.date(2011, 1, 24) + dt.timedelta(days=n), run_id=f"example__{n}", landing_dir=landing)

    env = {"AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"], "ETL_HOME": str(tmp_path / "etl")}
    with LocalAirflow(tmp_path / "airflow", EXAMPLE, env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed(DAG, timeout=120)
        af.unpause(DAG)
        runs = af.wait_until(
            lambda: len(r := af.runs(DAG)) == 2 and all(x.state == "success" for x in r) and r, 240, what="two weeks"
        )
        assert [r.logical_date.date().isoformat() for r in runs] == list(WEEKS)

        # 1. computed: exactly what an independent GROUP BY gives, both weeks in the ledger
        assert table(conn) == conn.execute(EXPECTED).fetchall()
        ledger = conn.execute(
            "select unit_key, status, rows_written from ops.processed_units where pipeline_name = %s order by 1",
            (DAG,),
        ).fetchall()
        assert [(u, s) for u, s, _ in ledger] == [(WEEKS[0], "completed"), (WEEKS[1], "completed")]
        assert all(written > 0 for *_, written in ledger)
        first = events(af)
        assert sorted(e["extra"]["unit"] for e in first) == list(WEEKS)
        assert all(e["name"] == "gold.weekly_country_sales" for e in first)

        # 2. run again: nothing changed, nothing written, no Asset event
        versions = {week: week_versions(conn, week) for week in WEEKS}
        assert rerun_all(af) == {WEEKS[0]: "skipped", WEEKS[1]: "skipped"}
        assert {week: week_versions(conn, week) for week in WEEKS} == versions
        assert len(events(af)) == 2

        # 3. a corrected silver day: only its week is recomputed
        day = dt.date(2011, 2, 1)
        path = landing_path(landing, day)
        path.write_text(path.read_text().replace("United Kingdom", "France"))
        load_day(day, run_id="example__fix", landing_dir=landing)
        assert rerun_all(af) == {WEEKS[0]: "skipped", WEEKS[1]: "success"}
        assert week_versions(conn, WEEKS[0]) == versions[WEEKS[0]]
        assert week_versions(conn, WEEKS[1]) != versions[WEEKS[1]]
        assert table(conn) == conn.execute(EXPECTED).fetchall()
        (latest,) = [e for e in events(af) if e["id"] == max(x["id"] for x in events(af))]
        assert latest["extra"]["unit"] == WEEKS[1]
        assert len(events(af)) == 3

        # 4. a SIGKILL inside the unit (written, not committed) leaves the table as it was
        day = dt.date(2011, 1, 26)
        path = landing_path(landing, day)
        path.write_text(path.read_text().replace("United Kingdom", "Germany"))
        load_day(day, run_id="example__fix2", landing_dir=landing)
        before = table_fingerprint(conn, TABLE)
        # a manual run at 2011-01-31 03:00: its data interval is the week before, week 1
        test_run = [str(AIRFLOW_BIN), "dags", "test", DAG, "2011-01-31T03:00:00+00:00"]
        crashed = subprocess.run(
            test_run,
            env={**af.environ(), "ETL_FAILPOINTS": "gold.unit.written:1"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        output = (crashed.stdout + crashed.stderr).splitlines()
        assert crashed.returncode == -signal.SIGKILL, "\n".join(line for line in output if "gold" in line)
        assert table_fingerprint(conn, TABLE) == before
        lost_stage = conn.execute(
            "select status from ops.pipeline_checkpoint where pipeline_name = %s and checkpoint_key = %s"
            " and status = 'in_progress'",
            (DAG, WEEKS[0]),
        ).fetchall()
        assert lost_stage == [("in_progress",)]  # as the dead process left it

        again = subprocess.run(test_run, env=af.environ(), capture_output=True, text=True, timeout=300, check=False)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert table(conn) == conn.execute(EXPECTED).fetchall()
        stages = conn.execute(
            "select status, error from ops.pipeline_checkpoint where pipeline_name = %s and checkpoint_key = %s"
            " and status <> 'completed'",
            (DAG, WEEKS[0]),
        ).fetchall()
        assert [s for s, _ in stages] == ["failed"]
        assert stages[0][1].startswith("process lost:")
