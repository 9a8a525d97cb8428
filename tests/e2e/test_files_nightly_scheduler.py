"""files_nightly through a real Airflow scheduler: wait, load each file, report and notify.

The night's file is waiting in the drop directory; unpaused, the DAG's scheduled run (the
latest 02:00 UTC, catchup off) loads it (one mapped task),
archives it, records the run in ops.pipeline_runs, and posts a Teams card to a local
receiver standing in for the webhook.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import CLASS, STUDENTS, students_file

from etl.airflow_local import LocalAirflow

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


def test_a_night_loads_archives_records_and_notifies(tmp_path, schema, conn, airflow_metadata_db, webhook):
    url, bodies = webhook
    drop, archive, relationships = tmp_path / "drop", tmp_path / "archive", tmp_path / "relationships.json"
    drop.mkdir()
    relationships.write_text(json.dumps(STUDENTS))
    students_file(drop / "students.txt", CLASS)
    conn.execute("drop schema if exists files cascade; drop schema if exists files_snapshots cascade")
    conn.execute("truncate ops.file_loads, ops.file_snapshots, ops.pipeline_runs")
    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        "AIRFLOW_CONN_NOTIFY_TEAMS": json.dumps({"conn_type": "http", "host": url, "password": "/hook?sig=secret"}),
        "ETL_FILES_RELATIONSHIPS": str(relationships),
        "ETL_FILES_DROP_DIR": str(drop),
        "ETL_FILES_ARCHIVE_DIR": str(archive),
        "ETL_HOME": str(tmp_path / "etl-home"),
    }
    with LocalAirflow(tmp_path / "airflow", ROOT / "dags", env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed(DAG, timeout=120)
        af.unpause(DAG)
        (run,) = af.wait_until(
            lambda: [r for r in af.runs(DAG) if r.state in {"success", "failed"}],
            timeout=240,
            poll=1,
            what="the scheduled run finished",
        )
        run_id = run.run_id
        assert run_id.startswith("scheduled__")
        states = af.task_states(DAG, run_id)

    assert states == {"ensure_schema": "success", "wait_for_files": "success", "load_file[0]": "success",
                      "report": "success"}  # fmt: skip
    assert conn.execute("select count(*) from files.students").fetchone()[0] == len(CLASS)
    assert not (drop / "students.txt").exists()
    assert len(list(archive.rglob("students.txt"))) == 1
    status, records = conn.execute(
        "select status, records_in from ops.pipeline_runs where pipeline_name = 'files' and run_id = %s", (run_id,)
    ).fetchone()
    assert (status, records) == ("success", len(CLASS))
    cards = [b for b in bodies if run_id in json.dumps(b)]
    assert len(cards) == 1
    text = json.dumps(cards[0])
    assert "students.txt -> students: 6 loaded, 0 rejected" in text
    assert "secret" not in text
