"""The watchdog against the warehouse (no scheduler here: tests/e2e/test_watchdog_scheduler.py has one).

The retail plan is checked on run lists in the REST API's shape; syncs and files on real rows.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from reliable_etl import db
from reliable_etl.cli import main
from reliable_etl.config import settings
from reliable_etl.maintenance.watchdog import last_due_day, retail_plan, watchdog

START = dt.date(2011, 3, 1)
NOW = dt.datetime(2011, 3, 11, 12, tzinfo=dt.UTC)  # day 03-10 is due at 03-11 10:00 (02:00 + 8 h)


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def run(n: int, state: str, run_type: str = "scheduled") -> dict:
    start = dt.datetime.combine(day(n), dt.time(2), dt.UTC)
    return {
        "dag_run_id": f"{run_type}__{start.isoformat()}",
        "state": state,
        "logical_date": start.isoformat(),
        "data_interval_start": start.isoformat(),
        "run_after": (start + dt.timedelta(days=1)).isoformat(),
    }


@pytest.fixture
def retail_days(clean_retail: psycopg.Connection, maint_env: pytest.MonkeyPatch) -> psycopg.Connection:
    """Days 03-01 .. 03-10 due; processed: all but 03-04 and 03-07."""
    maint_env.setenv("ETL_RETAIL_START_DATE", START.isoformat())
    maint_env.delenv("ETL_RETAIL_END_DATE", raising=False)
    settings.cache_clear()
    from reliable_etl.retail.load import day_logic_fingerprint

    with clean_retail.cursor() as cur:
        cur.executemany(
            "insert into silver.day_fingerprint"
            " (sales_date, source_sha256, row_count, net_amount, fingerprint, logic_fingerprint)"
            " values (%s, 'sha', 0, 0, 'fp', %s)",
            [(day(n), day_logic_fingerprint()) for n in range(10) if n not in (3, 6)],
        )
    return clean_retail


def test_last_due_day_waits_for_the_grace_period() -> None:
    assert last_due_day(dt.datetime(2011, 3, 11, 10, 0, tzinfo=dt.UTC)) == dt.date(2011, 3, 10)
    assert last_due_day(dt.datetime(2011, 3, 11, 9, 59, tzinfo=dt.UTC)) == dt.date(2011, 3, 9)


def test_days_missing_in_the_warehouse_are_found(retail_days) -> None:
    report = watchdog(airflow=False, pipelines=("retail",), now=NOW)
    retail = report.pipelines["retail_daily"].as_dict()
    assert retail["status"] == "unhealthy"
    assert retail["last_data_date"] == "2011-03-10"
    assert retail["days_behind"] == 0
    assert retail["details"]["missing_days"] == ["2011-03-04", "2011-03-07"]
    assert retail["details"]["expected_through"] == "2011-03-10"
    assert retail["action"] == "none"  # no Airflow asked: nothing to repair with
    assert report.status == "unhealthy"


def test_behind_counts_the_days_since_the_last_one(retail_days) -> None:
    later = NOW + dt.timedelta(days=3)
    retail = watchdog(airflow=False, pipelines=("retail",), now=later).pipelines["retail_daily"]
    assert retail.days_behind == 3
    assert retail.details["missing_count"] == 5


def test_days_loaded_with_other_rules_are_reported_stale(retail_days) -> None:
    """A changed validation rule: the days loaded before it are listed, with the command that reloads them."""
    retail_days.execute("update silver.day_fingerprint set logic_fingerprint = 'older rules' where sales_date < %s",
                        (day(2),))  # fmt: skip
    retail = watchdog(airflow=False, pipelines=("retail",), now=NOW).pipelines["retail_daily"].as_dict()
    assert retail["status"] == "unhealthy"
    assert (retail["details"]["stale_days"], retail["details"]["stale_count"]) == (["2011-03-01", "2011-03-02"], 2)
    assert "etl retail run --stale" in retail["details"]["stale_note"]


def test_all_days_present_is_healthy(retail_days) -> None:
    from reliable_etl.retail.load import day_logic_fingerprint

    retail_days.execute(
        "insert into silver.day_fingerprint"
        " (sales_date, source_sha256, row_count, net_amount, fingerprint, logic_fingerprint)"
        " values (%(d3)s, 'sha', 0, 0, 'fp', %(logic)s), (%(d6)s, 'sha', 0, 0, 'fp', %(logic)s)",
        {"d3": day(3), "d6": day(6), "logic": day_logic_fingerprint()},
    )
    assert watchdog(airflow=False, pipelines=("retail",), now=NOW).pipelines["retail_daily"].status == "healthy"


def test_the_plan_tells_failed_blocked_deleted_and_never_created_days() -> None:
    runs = [run(0, "success"), run(1, "success"), run(3, "success"), run(4, "failed"), run(5, "running")]
    dag = {"is_paused": False, "next_dagrun_data_interval_start": f"{day(6)}T02:00:00+00:00"}
    missing = [day(1), day(2), day(4), day(5), day(6), day(7)]
    plan = retail_plan(runs, dag, missing)
    assert plan["failed"] == [run(4, "failed")["dag_run_id"]]
    assert plan["rerun_deleted"] == [run(1, "success")["dag_run_id"]]  # succeeded, data gone
    assert plan["create"] == [day(2)]  # no run, before the next scheduled one: never created
    assert plan["scheduler"] == [day(6), day(7)]  # the scheduler's own catch-up
    assert plan["in_progress"] == [run(5, "running")["dag_run_id"]]
    assert plan["blocked"] == [run(5, "running")["dag_run_id"]]
    assert plan["days"] == [day(1), day(2), day(4)]  # the repair, in day order


def test_a_restated_day_is_run_again_in_order_with_the_days_whose_data_is_gone() -> None:
    runs = [run(0, "success"), run(1, "success"), run(2, "success"), run(3, "success")]
    dag = {"is_paused": False, "next_dagrun_data_interval_start": None}
    plan = retail_plan(runs, dag, missing=[day(2)], restated=[day(3), day(1)])
    assert plan["rerun_deleted"] == [run(2, "success")["dag_run_id"]]
    assert plan["rerun_restated"] == [run(1, "success")["dag_run_id"], run(3, "success")["dag_run_id"]]
    assert plan["rerun"] == [run(n, "success")["dag_run_id"] for n in (1, 2, 3)]  # cleared in day order
    assert plan["days"] == [day(1), day(2), day(3)]


def test_a_queued_day_behind_a_running_one_is_blocked() -> None:
    """apache/airflow#29524: a cleared day is queued while a later run holds the only slot."""
    runs = [run(0, "success"), run(1, "queued"), run(2, "running")]
    plan = retail_plan(runs, {"is_paused": False, "next_dagrun_data_interval_start": None}, [day(1), day(2)])
    assert plan["blocked"] == [run(2, "running")["dag_run_id"]]
    assert plan["failed"] == []


def _job(conn, service, entity, status, last_sync, *, attention=False, error=None) -> None:
    conn.execute(
        "insert into ops.sync_jobs (service, entity, status, needs_attention, last_sync_at, last_error)"
        " values (%s, %s, %s, %s, %s, %s)",
        (service, entity, status, attention, last_sync, error),
    )


def test_sync_jobs_stuck_failed_paused_and_stale(maint_env, conn) -> None:
    conn.execute("truncate ops.sync_jobs, ops.sync_transitions")
    now = dt.datetime.now(dt.UTC)
    _job(conn, "github", "acme/api", "FINISHED", now - dt.timedelta(minutes=30))
    _job(conn, "github", "acme/web", "RUNNING", now - dt.timedelta(hours=1))  # no worker holds its lock
    _job(conn, "jira", "ENG", "FAILED", now - dt.timedelta(hours=5), attention=True, error="HTTP 410 from Jira")
    _job(conn, "jira", "OPS", "PAUSED", now - dt.timedelta(days=9))
    sync = watchdog(airflow=False, pipelines=("sync",)).pipelines["engineering_sync"].as_dict()
    details = sync["details"]
    assert sync["status"] == "unhealthy"
    assert details["stuck"] == ["github acme/web"]
    assert details["failed"] == ["jira ENG"]
    assert details["needs_attention"] == ["jira ENG: HTTP 410 from Jira"]
    assert details["paused"] == ["jira OPS"]
    assert details["stale"] == ["jira ENG"]  # the paused one does not count as behind
    assert sync["last_data_date"] == (now - dt.timedelta(hours=5)).date().isoformat()
    # a worker holding the entity's lock: running, not stuck
    with db.connect() as worker:
        assert db.try_session_lock(worker, "sync:github:acme/web")
        details = watchdog(airflow=False, pipelines=("sync",)).pipelines["engineering_sync"].details
        assert details["stuck"] == []
    conn.execute("truncate ops.sync_jobs, ops.sync_transitions")


def test_files_last_successful_night(maint_env, conn) -> None:
    conn.execute("delete from ops.pipeline_runs where pipeline_name = 'files'")
    assert watchdog(airflow=False, pipelines=("files",)).pipelines["files_nightly"].status == "unknown"
    now = dt.datetime.now(dt.UTC)
    for n, status in ((3, "success"), (2, "failed")):
        conn.execute(
            "insert into ops.pipeline_runs (pipeline_name, run_id, status, started_at) values ('files', %s, %s, %s)",
            (f"night-{n}", status, now - dt.timedelta(days=n)),
        )
    files = watchdog(airflow=False, pipelines=("files",), now=now).pipelines["files_nightly"]
    assert files.status == "unhealthy"
    assert files.last_data_date == (now - dt.timedelta(days=3)).date()
    assert files.details["last_run_status"] == "failed"
    assert files.days_behind >= 2
    conn.execute("delete from ops.pipeline_runs where pipeline_name = 'files'")


def test_airflow_unreachable_is_reported_and_the_warehouse_still_judged(retail_days, maint_env) -> None:
    maint_env.setenv("ETL_AIRFLOW_API_URL", "http://127.0.0.1:9")  # discard port: refused
    retail = watchdog(pipelines=("retail",), now=NOW).pipelines["retail_daily"]
    assert retail.details["airflow"].startswith("unreachable: ConnectError")
    assert retail.status == "unhealthy"


def test_etl_health_prints_the_json_and_exits_1_when_unhealthy(retail_days, capsys) -> None:
    assert main(["health", "--no-airflow", "--pipeline", "retail"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["pipelines"]["retail_daily"]["details"]["missing_count"] >= 2
    assert out["status"] == "unhealthy"


def test_the_warehouse_down_is_unknown_and_exit_75(private_pg, private_warehouse, capsys) -> None:
    private_pg.stop("immediate")
    report = watchdog(airflow=False, pipelines=("retail", "files"))
    assert {p.status for p in report.pipelines.values()} == {"unknown"}
    assert report.warehouse_available is False
    assert main(["health", "--no-airflow"]) == 75
    private_pg.start()


def test_repair_closes_units_a_dead_process_left_in_progress(maint_env, conn) -> None:
    conn.execute(
        "insert into ops.pipeline_runs (pipeline_name, run_id, status) values ('retail', 'dead-run', 'running')"
    )
    conn.execute(
        "insert into ops.pipeline_checkpoint (pipeline_name, run_id, stage, checkpoint_key, status, lock_key)"
        " values ('retail', 'dead-run', 'bronze', '2011-04-01', 'in_progress', 'retail:day:2011-04-01')"
    )
    report = watchdog(airflow=False, repair=True, pipelines=("files",))
    assert report.lost_units_closed == {"retail 2011-04-01": ["dead-run"]}
    assert conn.execute("select status from ops.pipeline_runs where run_id = 'dead-run'").fetchone() == ("failed",)
    conn.execute("delete from ops.pipeline_checkpoint where run_id = 'dead-run'")
    conn.execute("delete from ops.pipeline_runs where run_id = 'dead-run'")
