"""The watchdog repairs retail_daily through a real scheduler: gaps found in the warehouse, days re-run in order.

Six days across the January/February month end. While day 4 (2011-01-31, a corrupt file) has
failed and day 5 waits behind it, three more faults are made: day 1's landing file is delivered
again, corrected (restated input), day 2's data is deleted from the warehouse (its run
succeeded), and day 3's run is deleted from Airflow with its data (a run the scheduler will
never create again: catchup only moves forward). After the file is fixed, one watchdog pass with
repair finds all four, clears days 1 and 2, creates day 3's run, clears day 4 and re-queues
day 5 (the code of `etl recover`); the scheduler then processes 1, 2, 3, 4, 5, 6 in that
order (January republished with day 1's correction), and the next pass reports retail healthy,
with the commits in order.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import psycopg
import pytest

from reliable_etl.maintenance.watchdog import watchdog
from reliable_etl.retail.landing import landing_path, split_export
from reliable_etl_dev import SAMPLE_CSV
from reliable_etl_dev.airflow_local import LocalAirflow

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = SAMPLE_CSV
DAYS = [dt.date(2011, 1, 28) + dt.timedelta(days=n) for n in range(6)]
RESTATED, DELETED, NEVER_CREATED, BAD = DAYS[0], DAYS[1], DAYS[2], DAYS[3]


def _day(run) -> dt.date:
    return run.logical_date.date()


def _commits_since(conn: psycopg.Connection, since: dt.datetime) -> list[str]:
    rows = conn.execute(
        "select checkpoint_key from ops.pipeline_checkpoint where pipeline_name = 'retail' and stage = 'silver'"
        " and status = 'completed' and end_time > %s order by end_time",
        (since,),
    ).fetchall()
    return [r[0] for r in rows]


def _delete_day(conn: psycopg.Connection, day: dt.date) -> None:
    conn.execute("delete from silver.fact_sales_daily where sales_date = %s", (day,))
    conn.execute("delete from silver.day_fingerprint where sales_date = %s", (day,))


@pytest.mark.timeout(600)
def test_watchdog_finds_the_gaps_and_the_scheduler_repairs_them_in_order(
    tmp_path, schema, conn, clean_retail, airflow_metadata_db, etl_env
) -> None:
    from reliable_etl.config import settings

    landing = tmp_path / "landing"
    split_export(SAMPLE, landing)
    good = landing_path(landing, BAD).read_bytes()
    landing_path(landing, BAD).write_bytes(good.replace(b"United Kingdom", b"United K\xffngdom", 1))
    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        "ETL_RETAIL_LANDING_DIR": str(landing),
        "ETL_RETAIL_START_DATE": DAYS[0].isoformat(),
        "ETL_RETAIL_END_DATE": DAYS[-1].isoformat(),
        "ETL_HOME": str(tmp_path / "etl-home"),
    }
    for key in ("ETL_RETAIL_START_DATE", "ETL_RETAIL_END_DATE", "ETL_RETAIL_LANDING_DIR"):  # the watchdog's too
        etl_env.setenv(key, env[key])
    settings.cache_clear()

    with LocalAirflow(tmp_path / "airflow", ROOT / "dags", env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed("retail_daily", timeout=120)
        # paused (as every new DAG): behind, reported, neither repaired nor unpaused
        paused = watchdog(airflow=af.api, repair=True, pipelines=("retail",)).pipelines["retail_daily"]
        assert (paused.status, paused.action, paused.days_behind) == ("unhealthy", "paused", len(DAYS))
        assert af.api.dag("retail_daily")["is_paused"] is True
        assert af.runs("retail_daily") == []
        af.unpause("retail_daily")

        def bad_failed_next_blocked() -> bool:
            runs = {_day(r): r for r in af.runs("retail_daily")}
            return BAD in runs and runs[BAD].state == "failed" and DAYS[4] in runs and runs[DAYS[4]].state == "running"

        af.wait_until(bad_failed_next_blocked, timeout=300, poll=1, what="day 4 failed, day 5 blocked")
        runs = {_day(r): r for r in af.runs("retail_daily")}
        assert [runs[d].state for d in DAYS[:3]] == ["success"] * 3

        # the faults: data gone for day 2, day 3's run and data gone
        _delete_day(conn, DELETED)
        af.api.request("DELETE", f"/dags/retail_daily/dagRuns/{runs[NEVER_CREATED].run_id}")
        _delete_day(conn, NEVER_CREATED)
        landing_path(landing, BAD).write_bytes(good)  # the corrected delivery
        restated = landing_path(landing, RESTATED)  # and a correction of a day loaded long ago
        restated.write_bytes(restated.read_bytes().replace(b",United Kingdom", b",EIRE", 1))
        eire = "select coalesce(sum(amount), 0) from silver.fact_sales_daily where sales_date = %s and country = 'EIRE'"
        eire_before = conn.execute(eire, (RESTATED,)).fetchone()[0]
        january = "select net_amount from gold.fact_country_sales where month_key = '2011-01' and country = 'EIRE'"

        # a check without repair reports the plan and changes nothing
        plan = watchdog(airflow=af.api, pipelines=("retail",)).pipelines["retail_daily"]
        assert plan.action == "catch_up_needed"
        assert af.runs("retail_daily") == [r for d, r in sorted(runs.items()) if d != NEVER_CREATED]

        repair_started = dt.datetime.now(dt.UTC)
        report = watchdog(airflow=af.api, repair=True, pipelines=("retail",)).as_dict()
        print(report)
        retail = report["pipelines"]["retail_daily"]
        details = retail["details"]
        assert retail["status"] == "unhealthy"
        assert retail["action"] == "triggered_catch_up"
        assert details["missing_days"][:3] == [d.isoformat() for d in (DELETED, NEVER_CREATED, BAD)]
        assert details["failed_runs"] == [runs[BAD].run_id]
        assert details["blocked_runs"] == [runs[DAYS[4]].run_id]
        assert details["data_gone_runs"] == [runs[DELETED].run_id]
        assert details["restated_runs"] == [runs[RESTATED].run_id]
        assert [d.split()[0] for d in details["restated_days"]] == [RESTATED.isoformat()]
        assert details["never_created_days"] == [NEVER_CREATED.isoformat()]
        assert details["repair_days_in_order"] == [d.isoformat() for d in (RESTATED, DELETED, NEVER_CREATED, BAD)]
        assert details["repair"]["cleared"] == [runs[RESTATED].run_id, runs[DELETED].run_id]
        assert details["repair"]["created"] == [f"watchdog__{NEVER_CREATED}T02:00:00+00:00"]
        assert details["repair"]["recovered"]["failed_run"] == runs[BAD].run_id
        assert details["repair"]["recovered"]["requeued"] == [runs[DAYS[4]].run_id]

        def every_day_done() -> bool:
            done = {_day(r): r.state for r in af.runs("retail_daily")}
            return all(done.get(d) == "success" for d in DAYS)

        af.wait_until(every_day_done, timeout=300, poll=1, what="every day succeeded")
        assert _commits_since(conn, repair_started) == [d.isoformat() for d in DAYS]

        final = watchdog(airflow=af.api, repair=True, pipelines=("retail", "files"))
        after = final.pipelines["retail_daily"]
        assert after.status == "healthy", after.details
        files = final.pipelines["files_nightly"].details  # its runs, from one API call
        assert (files["dag_paused"], files["last_run"], files["missing_runs"]) == (True, None, None)
        assert after.action == "none"
        assert after.last_data_date == DAYS[-1]
        assert [c.split()[0] for c in after.details["recent_commits"][-6:]] == [d.isoformat() for d in DAYS]
        assert "restated_days" not in after.details
        eire_after = conn.execute(eire, (RESTATED,)).fetchone()[0]
        assert eire_after != eire_before  # the corrected line moved to EIRE ...
        silver_january = conn.execute(
            "select sum(amount) from silver.fact_sales_daily where country = 'EIRE'"
            " and sales_date >= '2011-01-01' and sales_date < '2011-02-01'"
        ).fetchone()[0]
        assert conn.execute(january).fetchone()[0] == silver_january  # ... and January's gold was republished
