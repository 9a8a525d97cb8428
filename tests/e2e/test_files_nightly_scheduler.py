"""files_nightly through a real Airflow scheduler: wait, load each file, report and notify.

Unpaused, the DAG's scheduled run (the latest 02:00 UTC, catchup off) handles the drop
directory as it is: the night's file loads (one mapped task), is archived, the run goes to
ops.pipeline_runs and a Teams card to a local receiver standing in for the webhook. A file
that never arrives, or one that fails to load, still gets its one card, and the run's state
in the REST API is "failed": what Airflow's UI shows is what happened.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.testing.files import CLASS, STUDENTS, students_file

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAG = "files_nightly"


@pytest.fixture
def webhook():
    """A local stand-in for a Teams incoming webhook: keeps every JSON body posted to it."""
    bodies: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()


def one_night(
    tmp_path: Path, conn: psycopg.Connection, metadata_db: str, url: str, deliver: Callable[[Path], object]
) -> tuple[str, str, dict[str, dict]]:
    """Run the scheduled night with what `deliver` puts in the drop directory (the sensor gives
    up at once: ETL_FILES_WAIT_HOURS=0); (run id, run state, {task: task instance})."""
    drop, relationships = tmp_path / "drop", tmp_path / "relationships.json"
    drop.mkdir()
    relationships.write_text(json.dumps(STUDENTS))
    deliver(drop)
    # emptied, not left to init_schema: it skips a script it has applied before
    conn.execute(
        "drop schema if exists files, files_snapshots cascade; create schema files; create schema files_snapshots"
    )
    conn.execute("truncate ops.file_loads, ops.file_snapshots, ops.pipeline_runs")
    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        "AIRFLOW_CONN_NOTIFY_TEAMS": json.dumps({"conn_type": "http", "host": url, "password": "/hook?sig=secret"}),
        "ETL_FILES_RELATIONSHIPS": str(relationships),
        "ETL_FILES_DROP_DIR": str(drop),
        "ETL_FILES_ARCHIVE_DIR": str(tmp_path / "archive"),
        "ETL_FILES_WAIT_HOURS": "0",
        "ETL_HOME": str(tmp_path / "etl-home"),
    }
    with LocalAirflow(tmp_path / "airflow", ROOT / "dags", env=env, metadata_db=metadata_db) as af:
        af.wait_parsed(DAG, timeout=120)
        af.unpause(DAG)
        (run,) = af.wait_until(
            lambda: [r for r in af.runs(DAG) if r.state in {"success", "failed"}],
            timeout=240,
            poll=1,
            what="the scheduled run finished",
        )
        assert run.run_id.startswith("scheduled__")
        tis = {
            ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]": ti
            for ti in af.api.task_instances(DAG, run.run_id)
        }
    return run.run_id, run.state, tis


def cards_of(bodies: list[dict], run_id: str) -> list[str]:
    return [json.dumps(b) for b in bodies if run_id in json.dumps(b)]


def test_a_night_loads_archives_records_and_notifies(tmp_path, schema, conn, airflow_metadata_db, webhook):
    url, bodies = webhook
    run_id, state, tis = one_night(
        tmp_path, conn, airflow_metadata_db, url, lambda drop: students_file(drop / "students.txt", CLASS)
    )

    assert state == "success"
    assert {t: ti["state"] for t, ti in tis.items()} == {"ensure_schema": "success", "wait_for_files": "success",
                                                         "load_file[0]": "success", "report": "success"}  # fmt: skip
    assert conn.execute("select count(*) from files.students").fetchone()[0] == len(CLASS)
    assert not (tmp_path / "drop" / "students.txt").exists()
    assert len(list((tmp_path / "archive").rglob("students.txt"))) == 1
    status, records = conn.execute(
        "select status, records_in from ops.pipeline_runs where pipeline_name = 'files' and run_id = %s", (run_id,)
    ).fetchone()
    assert (status, records) == ("success", len(CLASS))
    (card,) = cards_of(bodies, run_id)
    assert "students.txt -> students: 6 loaded, 0 rejected" in card
    assert "secret" not in card


def test_a_file_that_never_came_fails_the_run_after_one_notification(
    tmp_path, schema, conn, airflow_metadata_db, webhook
):
    url, bodies = webhook
    run_id, state, tis = one_night(tmp_path, conn, airflow_metadata_db, url, lambda drop: None)

    assert state == "failed"  # was "success": the report (all_done) was the only leaf
    assert tis["wait_for_files"]["state"] == "failed"
    assert tis["load_file"]["state"] == "upstream_failed"
    assert tis["report"]["state"] == "failed"  # it reported, notified, then failed the run
    assert tis["report"]["try_number"] == 1  # not retried: no second notification
    (card,) = cards_of(bodies, run_id)
    assert "no file for students.txt" in card
    assert conn.execute(
        "select status, error from ops.pipeline_runs where pipeline_name = 'files' and run_id = %s", (run_id,)
    ).fetchone() == ("failed", "no file for students.txt")


def test_a_file_that_fails_to_load_fails_the_run_after_one_notification(
    tmp_path, schema, conn, airflow_metadata_db, webhook
):
    url, bodies = webhook
    run_id, state, tis = one_night(
        tmp_path,
        conn,
        airflow_metadata_db,
        url,
        lambda drop: students_file(drop / "students.txt", [CLASS[0], *["short line"] * 3]),
    )

    assert state == "failed"
    assert tis["load_file[0]"]["state"] == "failed"
    assert tis["report"]["state"] == "failed"
    assert tis["report"]["try_number"] == 1
    (card,) = cards_of(bodies, run_id)
    assert "students.txt" in card
    assert "3 of 4 records rejected" in card
    assert (tmp_path / "drop" / "students.txt").exists()  # not loaded: not archived
    assert conn.execute(
        "select status from ops.pipeline_runs where pipeline_name = 'files' and run_id = %s", (run_id,)
    ).fetchone() == ("failed",)
