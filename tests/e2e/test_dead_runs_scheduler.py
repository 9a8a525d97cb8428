"""A run held open by an Airflow DAG run is never closed while the DAG run lives, and is once it ended.

Through a real scheduler (tests/fixtures/dags/toy_held_run.py): ``toy_held_run`` opens its
ledger run in its first task and is running its second (between units, as retail's day runs
are between load_day and publish_gold). The reaper (what the watchdog runs on every pass, in an
Airflow task: it asks Airflow through the Task SDK) leaves it open. The second task then fails
(no retries): the DAG run ends ``failed`` with the ledger row still ``running``, and the next
reaper pass closes it as failed, "process lost", naming the Airflow run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
import pytest

from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.testing import FIXTURE_DAGS

pytestmark = pytest.mark.slow


def ledger_row(conn: psycopg.Connection) -> tuple | None:
    return conn.execute(
        "select status, error, metadata->'holder'->>'kind' from ops.pipeline_runs"
        " where pipeline_name = 'toy_held' and run_id = 'held'"
    ).fetchone()


@pytest.mark.timeout(420)
def test_an_airflow_held_run_is_closed_only_once_its_dag_run_ended(tmp_path: Path, conn, airflow_metadata_db) -> None:
    conn.execute("delete from ops.pipeline_runs where pipeline_name = 'toy_held'")
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(FIXTURE_DAGS / "toy_held_run.py", dags)
    flag = tmp_path / "flag"
    env = {"TOY_FLAG": str(flag), "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"]}
    with LocalAirflow(tmp_path / "airflow", dags, env=env, metadata_db=airflow_metadata_db) as af:
        for dag_id in ("toy_held_run", "toy_reaper"):
            af.wait_parsed(dag_id, timeout=90)
            af.unpause(dag_id)

        def reap(run_id: str) -> None:
            af.api.request("POST", "/dags/toy_reaper/dagRuns", json={"dag_run_id": run_id, "logical_date": None})
            af.wait_until(
                lambda: {r.run_id: r.state for r in af.runs("toy_reaper")}.get(run_id) in {"success", "failed"},
                timeout=120,
                what=f"reaper run {run_id}",
            )
            assert {r.run_id: r.state for r in af.runs("toy_reaper")}[run_id] == "success"

        af.api.request("POST", "/dags/toy_held_run/dagRuns", json={"dag_run_id": "held", "logical_date": None})
        af.wait_until(
            lambda: af.task_states("toy_held_run", "held").get("between") == "running",
            timeout=120,
            what="the held run's second task running",
        )
        assert ledger_row(conn) == ("running", None, "airflow")

        reap("reap_while_running")
        assert ledger_row(conn) == ("running", None, "airflow")  # its DAG run lives: left open

        flag.write_text("fail")
        af.wait_until(
            lambda: {r.run_id: r.state for r in af.runs("toy_held_run")}.get("held") == "failed",
            timeout=120,
            what="the held run failed",
        )
        assert ledger_row(conn)[0] == "running"  # nobody closed it: the dead run of the issue

        reap("reap_after_end")
        status, error, _ = ledger_row(conn)
        assert status == "failed"
        assert error == (
            "process lost: its Airflow run toy_held_run held ended with the run still open"
            " (found by run reap_after_end)"
        )
