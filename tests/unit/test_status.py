"""`etl status`: services up, the last runs per pipeline, the watchdog's latest health, the logs.

Against the real warehouse and a local HTTP server answering as Airflow's REST API does
(``/api/v2/version``, ``/api/v2/monitor/health``, their real shapes); a service that is down is
a line of the report and exit 1, never a traceback. The Celery workers' answers through a real
broker are checked by tests/e2e/test_celery_scaleout.py.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from reliable_etl.cli import main
from reliable_etl.status import stack_status

NOW = dt.datetime.now(dt.UTC)


def health(**states: str) -> dict:
    """GET /api/v2/monitor/health as Airflow 3.3 answers it."""
    beat = (NOW - dt.timedelta(seconds=3)).isoformat()
    body = {"metadatabase": {"status": states.get("metadatabase", "healthy")}}
    for name in ("scheduler", "triggerer", "dag_processor"):
        body[name] = {"status": states.get(name, "healthy"), f"latest_{name}_heartbeat": beat}
    return body


def service_state(out: str, name: str) -> str:
    """The state column of a service's line in the report."""
    line = next(line for line in out.splitlines() if line.startswith(f"  {name}  ") or line == f"  {name}")
    return line[len(name) + 2 :].split()[0]


@pytest.fixture
def airflow_api(etl_env: pytest.MonkeyPatch):
    """A stand-in for the api-server; ``state["health"]`` is what /monitor/health answers."""
    state = {"health": health()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            routes = {"/api/v2/version": {"version": "3.3.2", "git_version": None}, "/api/v2/monitor/health": None}
            if self.path not in routes:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(routes[self.path] or state["health"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    etl_env.setenv("AIRFLOW_CONN_AIRFLOW_API", url)
    etl_env.delenv("ETL_DEPLOYMENT", raising=False)
    state["url"] = url
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def ledger(conn: psycopg.Connection) -> psycopg.Connection:
    """Two pipelines' runs and the maintenance jobs' results, the latest of each last."""
    conn.execute("truncate ops.pipeline_runs, ops.maintenance_runs")
    runs = [
        ("retail", "scheduled__2011-01-29", "success", NOW - dt.timedelta(hours=30), 120, 118, 2, None),
        ("retail", "scheduled__2011-01-30", "failed", NOW - dt.timedelta(hours=2), 50, 0, 0, "file.csv: line 3: bad"),
        ("retail", "scheduled__2011-01-30b", "success", NOW - dt.timedelta(hours=1), 50, 50, 0, None),
        ("files", "scheduled__2026-01-02", "success", NOW - dt.timedelta(minutes=30), 2000, 2000, 0, None),
    ]
    for name, run_id, status, started, rin, rout, rejected, error in runs:
        conn.execute(
            "insert into ops.pipeline_runs (pipeline_name, run_id, status, started_at, ended_at, duration_ms,"
            " records_in, records_out, records_rejected, error) values (%s, %s, %s, %s, %s, 1000, %s, %s, %s, %s)",
            (name, run_id, status, started, started + dt.timedelta(seconds=1), rin, rout, rejected, error),
        )
    watchdog = {
        "status": "healthy",
        "pipelines": {
            "retail_daily": {"status": "healthy", "last_data_date": "2011-01-30", "days_behind": 0, "action": "none"},
        },
    }
    for job, status, result, ago in (
        ("watchdog", "unhealthy", {"status": "unhealthy", "pipelines": {}}, 3),
        ("watchdog", "healthy", watchdog, 1),
        ("health_check", "healthy", {"status": "healthy"}, 2),
    ):
        conn.execute(
            "insert into ops.maintenance_runs (job, run_id, status, started_at, finished_at, duration_ms, result)"
            " values (%s, %s, %s, %s, %s, 10, %s)",
            (
                job,
                f"run-{ago}",
                status,
                NOW - dt.timedelta(hours=ago),
                NOW - dt.timedelta(hours=ago),
                json.dumps(result),
            ),
        )
    return conn


def test_status_shows_services_last_runs_the_watchdog_and_the_logs(airflow_api, ledger, capsys):
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert f"api-server      up       {airflow_api['url']}, Airflow 3.3.2" in out
    for name in ("metadatabase", "scheduler", "dag_processor", "triggerer", "warehouse"):
        assert service_state(out, name) == "up", name
    assert "celery workers  n/a      executor LocalExecutor" in out
    # the latest run of each pipeline, with its last 24 hours
    assert "retail         success  scheduled__2011-01-30b" in out
    assert "24 h: 1 ok, 1 failed" in out
    assert "files          success  scheduled__2026-01-02" in out
    assert "2,000 in, 2,000 out" in out
    # the latest result of each job, the watchdog's pipelines below it
    assert "watchdog               healthy" in out
    assert "retail_daily       healthy    last data 2011-01-30, 0 days behind, action none" in out
    assert "health_check           healthy" in out
    assert "components" in out
    assert "ops.pipeline_logs" in out

    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert {p["pipeline_name"]: (p["status"], p["succeeded_24h"], p["failed_24h"]) for p in report["pipelines"]} == {
        "retail": ("success", 1, 1),
        "files": ("success", 1, 0),
    }
    assert [m["job"] for m in report["maintenance"]] == ["health_check", "watchdog"]


def test_a_component_down_fails_the_status(airflow_api, ledger, capsys):
    airflow_api["health"] = health(scheduler="unhealthy")
    assert main(["status"]) == 1
    assert service_state(capsys.readouterr().out, "scheduler") == "down"


def test_an_api_server_that_does_not_answer_is_reported_not_raised(airflow_api, ledger, etl_env, capsys):
    etl_env.setenv("AIRFLOW_CONN_AIRFLOW_API", "http://127.0.0.1:9")  # discard port: refused
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert "api-server      down     http://127.0.0.1:9: ConnectError" in out
    assert "scheduler       unknown  the api-server does not answer" in out
    assert "retail         success" in out  # the warehouse part still shown


def test_an_unhealthy_watchdog_fails_the_status(airflow_api, ledger):
    ledger.execute(
        "insert into ops.maintenance_runs (job, status, started_at, finished_at, result) values"
        " ('watchdog', 'unhealthy', now(), now(), %s)",
        (
            json.dumps(
                {"status": "unhealthy", "pipelines": {"retail_daily": {"status": "unhealthy", "days_behind": 3}}}
            ),
        ),
    )
    status = stack_status()
    assert not status.ok
    assert all(not s.down for s in status.services)
    assert "retail_daily       unhealthy  last data -, 3 days behind" in status.render()


def test_the_warehouse_down_is_a_line_of_the_report(airflow_api, etl_env):
    from reliable_etl.config import settings

    etl_env.setenv("AIRFLOW_CONN_WAREHOUSE", "postgresql://etl:secret-pw@127.0.0.1:9/warehouse")
    settings.cache_clear()
    status = stack_status()
    warehouse = next(s for s in status.services if s.name == "warehouse")
    assert warehouse.status == "down"
    assert "secret-pw" not in warehouse.detail
    assert status.pipelines == []
    assert not status.ok


@pytest.mark.parametrize(
    ("deployment", "components"),
    [
        ("docker-compose", "docker compose logs -f airflow-apiserver airflow-scheduler"),
        ("systemd", "journalctl -f -u 'etl-airflow-*'"),
        ("local", "/logs/<component>.log (api-server, scheduler, dag-processor, triggerer, worker-<name>)"),
    ],
)
def test_the_logs_are_said_for_each_kind_of_deployment(airflow_api, ledger, etl_env, deployment, components):
    etl_env.setenv("ETL_DEPLOYMENT", deployment)
    status = stack_status()
    assert components in status.logs["components"]
    assert f"deployment: {deployment}" in status.notes[0]


def test_an_unknown_deployment_is_a_configuration_error(airflow_api, etl_env, capsys):
    etl_env.setenv("ETL_DEPLOYMENT", "kubernetes")
    assert main(["status"]) == 2
    assert "ETL_DEPLOYMENT='kubernetes': expected one of docker-compose, systemd, local" in capsys.readouterr().err


def test_celery_workers_behind_a_broker_that_is_down(airflow_api, ledger, etl_env):
    etl_env.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    etl_env.setenv("AIRFLOW__CELERY__BROKER_URL", "redis://127.0.0.1:9/0")
    status = stack_status(ping_timeout=0.5)
    workers = next(s for s in status.services if s.name == "celery workers")
    assert workers.status == "down"
    assert workers.detail.startswith("the broker does not answer")
