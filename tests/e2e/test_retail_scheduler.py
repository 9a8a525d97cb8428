"""retail_daily through a real Airflow scheduler: strict order, a failed day, `etl recover`, backfill.

Six days across the January/February month end. Day 2011-01-30 arrives corrupt: it fails,
and no later day may be processed until it is fixed and `recover` runs; then every day
runs in order; a backfill re-runs them all writing nothing; gold equals a clean in-process run's.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import psycopg
import pytest

from reliable_etl.retail.gold import gold_for_day
from reliable_etl.retail.landing import landing_path, split_export
from reliable_etl.retail.load import load_day
from reliable_etl_dev import SAMPLE_CSV, scratch
from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.testing import table_fingerprint
from reliable_etl_plugin.recovery import recover

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = SAMPLE_CSV
FIRST, LAST = dt.date(2011, 1, 28), dt.date(2011, 2, 2)
BAD_DAY = dt.date(2011, 1, 30)
GOLD = ("gold.fact_sales_monthly", "gold.fact_product_performance", "gold.fact_country_sales")
DATA_TABLES = (
    "bronze.retail_sales",
    "bronze.retail_files",
    "silver.fact_sales_daily",
    "silver.day_fingerprint",
    *GOLD,
    "ops.processed_months",
)


def _days() -> list[dt.date]:
    return [FIRST + dt.timedelta(days=n) for n in range((LAST - FIRST).days + 1)]


def _committed_days(conn: psycopg.Connection) -> list[str]:
    """Days whose silver stage committed, in commit order."""
    rows = conn.execute(
        "select checkpoint_key from ops.pipeline_checkpoint"
        " where pipeline_name = 'retail' and stage = 'silver' and status = 'completed' order by end_time"
    ).fetchall()
    return [r[0] for r in rows]


def _run_day(run) -> dt.date:
    return run.logical_date.date()


def test_failed_day_blocks_later_days_until_recover(tmp_path, pg_server, clean_retail, airflow_metadata_db):
    conn = clean_retail
    landing = tmp_path / "landing"
    split_export(SAMPLE, landing)
    good = landing_path(landing, BAD_DAY).read_bytes()
    corrupt = good.replace(b"United Kingdom", b"United K\xffngdom", 1)
    assert corrupt != good
    landing_path(landing, BAD_DAY).write_bytes(corrupt)

    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        "ETL_RETAIL_LANDING_DIR": str(landing),
        "ETL_RETAIL_START_DATE": FIRST.isoformat(),
        "ETL_RETAIL_END_DATE": LAST.isoformat(),
        "ETL_HOME": str(tmp_path / "etl-home"),
    }
    with LocalAirflow(tmp_path / "airflow", ROOT / "dags", env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed("retail_daily", timeout=120)
        af.unpause("retail_daily")

        def bad_day_failed_and_next_blocked():
            runs = {_run_day(r): r for r in af.runs("retail_daily")}
            bad, nxt = runs.get(BAD_DAY), runs.get(BAD_DAY + dt.timedelta(days=1))
            if bad is None or bad.state != "failed" or nxt is None:
                return False
            # the next day's load_day waits on the failed one (depends_on_past)
            return af.task_states("retail_daily", nxt.run_id).get("wait_for_landing_file") == "success"

        af.wait_until(bad_day_failed_and_next_blocked, timeout=240, poll=1, what="day 2011-01-30 failed, 01-31 waiting")
        time.sleep(8)  # give the scheduler every chance to (wrongly) run a later day
        assert _committed_days(conn) == ["2011-01-28", "2011-01-29"]
        bad_run = next(r for r in af.runs("retail_daily") if _run_day(r) == BAD_DAY)
        log_text = "".join(p.read_text(errors="replace") for p in (tmp_path / "airflow" / "logs").rglob("*.log"))
        assert f"{landing_path(landing, BAD_DAY)}: line" in log_text
        assert "not UTF-8" in log_text
        assert af.task_states("retail_daily", bad_run.run_id)["load_day"] == "failed"
        failed = conn.execute(
            "select status, error from ops.pipeline_runs where run_id = %s", (bad_run.run_id,)
        ).fetchone()
        assert failed[0] == "failed"
        assert "not UTF-8" in failed[1]

        landing_path(landing, BAD_DAY).write_bytes(good)  # the corrected delivery
        report = recover("retail_daily", airflow=af.api)
        assert report.changed

        af.wait_until(
            lambda: (
                len(af.runs("retail_daily")) == len(_days())
                and all(r.state == "success" for r in af.runs("retail_daily"))
            ),
            timeout=240,
            poll=1,
            what="every day succeeded",
        )
        assert _committed_days(conn) == [d.isoformat() for d in _days()]

        # the documented backfill re-runs every day through the scheduler and writes nothing
        before = {t: table_fingerprint(conn, t) for t in DATA_TABLES}
        started = dt.datetime.now(dt.UTC)
        # what `airflow backfill create --dag-id retail_daily --from-date ... --to-date ...
        # --max-active-runs 1 --reprocess-behavior completed` sends
        backfill = {
            "dag_id": "retail_daily",
            "from_date": f"{FIRST.isoformat()}T00:00:00Z",
            "to_date": f"{LAST.isoformat()}T02:00:00Z",
            "max_active_runs": 1,
            "reprocess_behavior": "completed",
        }
        af.api.request("POST", "/backfills", json=backfill)
        af.wait_until(
            lambda: (
                len(runs := af.runs("retail_daily")) == len(_days())
                and all(r.state == "success" and r.end_date and r.end_date > started for r in runs)
            ),
            timeout=240,
            poll=1,
            what="the backfill re-ran every day",
        )
        assert {t: table_fingerprint(conn, t) for t in DATA_TABLES} == before

    scheduled_gold = {t: table_fingerprint(conn, t)[:2] for t in GOLD}
    assert scheduled_gold["gold.fact_sales_monthly"][0] == 1  # January closed, February open

    # a clean in-process run of the same days into a database of its own
    previous = os.environ["AIRFLOW_CONN_WAREHOUSE"]
    with scratch.database(pg_server, prefix="etl_test_clean") as name:
        os.environ["AIRFLOW_CONN_WAREHOUSE"] = scratch.airflow_conn_uri(pg_server, name)
        try:
            from reliable_etl import db
            from reliable_etl.ops import init_schema

            init_schema()
            for day in _days():
                load_day(day, run_id=f"clean__{day}", landing_dir=landing)
                gold_for_day(day, run_id=f"clean__{day}")
            with db.connect(autocommit=True) as clean:
                clean_gold = {t: table_fingerprint(clean, t)[:2] for t in GOLD}
        finally:
            os.environ["AIRFLOW_CONN_WAREHOUSE"] = previous
    assert scheduled_gold == clean_gold
