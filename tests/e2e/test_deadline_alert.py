"""A Deadline Alert fires through a real scheduler and triggerer and reaches Slack; catch-up runs do not.

The toy DAG (tests/fixtures/dags/toy_deadline.py) uses the installed plugin's
``reliable_etl_plugin.deadlines.deadline_alert`` (the factory of retail_daily's and
files_nightly's deadlines) with a deadline 5 seconds after the logical date; its only task
sleeps 60. Run 1 (logical date now) misses it: the scheduler sees the deadline missed, the
triggerer runs the ``AsyncCallback`` (the Slack provider's ``SlackWebhookNotifier``), which
posts to a local receiver speaking the Slack incoming webhook's answers. Run 2 is a catch-up
of yesterday, queued long after its deadline: logged, not sent.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.testing import FIXTURE_DAGS

DAG_ID = "toy_deadline"  # tests/fixtures/dags/toy_deadline.py


@pytest.fixture
def slack_receiver():
    posts: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posts
    server.shutdown()
    server.server_close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_missed_deadline_sends_slack_from_the_triggerer(tmp_path: Path, airflow_metadata_db, slack_receiver) -> None:
    url, posts = slack_receiver
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(FIXTURE_DAGS / f"{DAG_ID}.py", dags)
    slack = {"conn_type": "slackwebhook", "host": f"{url}/services", "password": "T0/B0/deadline"}
    env = {"AIRFLOW_CONN_NOTIFY_SLACK": json.dumps(slack)}
    with LocalAirflow(tmp_path / "airflow", dags, env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed(DAG_ID, timeout=90)
        af.unpause(DAG_ID)
        now = dt.datetime.now(dt.UTC)

        def trigger(logical_date: dt.datetime, run_id: str) -> str:
            body = {"dag_run_id": run_id, "logical_date": logical_date.isoformat(), "run_after": now.isoformat()}
            return af.api.request("POST", f"/dags/{DAG_ID}/dagRuns", json=body)["dag_run_id"]

        catch_up = trigger(now - dt.timedelta(days=1), "catch_up")  # its deadline passed before it was queued
        run_id = trigger(now, "late")
        af.wait_until(lambda: posts, timeout=120, poll=0.5, what="the deadline's Slack message")
        states = {r.run_id: r.state for r in af.runs(DAG_ID)}
        assert states[run_id] in {"queued", "running"}  # a deadline alerts, it does not fail the run
        af.wait_until(
            lambda: (
                "not notified: the run was queued at" in (tmp_path / "airflow" / "logs" / "triggerer.log").read_text()
            ),
            timeout=60,
            what="the catch-up run's deadline logged, not sent",
        )
    path, body = posts[0]
    assert path == "/services/T0/B0/deadline"
    assert body["text"].startswith(f":alarm_clock: {DAG_ID}: run {run_id} is not finished (the test's promise)")
    assert "{{" not in body["text"]  # rendered with the deadline's context
    assert catch_up not in body["text"]
    assert len(posts) == 1
