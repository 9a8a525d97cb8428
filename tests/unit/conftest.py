"""Fixtures of the unit tests beside tests/conftest.py's: the maintenance tests' real services.

- ``maint_env``: ETL_HOME, the DuckDB mirror and the backups in a tmp dir; fast retries.
- ``redis_ns``: the local Redis (127.0.0.1:6379) as ``redis_default``, with a key prefix of
  the test's own; its keys are deleted afterwards (never FLUSHALL).
- ``redis_down``: ``redis_default`` pointing at a closed loopback port.
- ``slack``: a local HTTP receiver speaking the Slack incoming webhook's answers, as ``notify_slack``.
- ``private_pg`` / ``private_warehouse``: a PostgreSQL server of the module's own (its data
  directory, its socket) to stop with ``pg_ctl stop -m immediate``; a database per test.

Their helpers (``redis_conn``, ``closed_port``, ``SlackReceiver``) are in reliable_etl_dev.testing.maintenance.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reliable_etl_dev import scratch
from reliable_etl_dev.testing.maintenance import REDIS_HOST, REDIS_PORT, SlackReceiver, closed_port, redis_conn

# --- maintenance fixtures (real services only) ----------------------------------------------


@pytest.fixture
def maint_env(tmp_path: Path, fast_retry: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    from reliable_etl.config import settings

    home = tmp_path / "etl-home"
    home.mkdir()
    for key, value in {
        "ETL_HOME": home,
        "ETL_ANALYTICS_PATH": home / "analytics.duckdb",
        "ETL_BACKUP_DIR": home / "backups",
        "ETL_FILES_ARCHIVE_DIR": home / "archive",
        "ETL_MAINTENANCE_RETRY_SECONDS": "1",
        "ETL_RETRY_ATTEMPTS": "3",
    }.items():
        fast_retry.setenv(key, str(value))
    settings.cache_clear()
    return fast_retry


@pytest.fixture
def redis_ns(maint_env: pytest.MonkeyPatch) -> Iterator[str]:
    """The local Redis as ``redis_default``; every key of this test starts with the returned prefix."""
    import redis

    from reliable_etl.config import settings

    prefix = f"etl:test-{uuid.uuid4().hex[:12]}:"
    maint_env.setenv("AIRFLOW_CONN_REDIS_DEFAULT", redis_conn())
    maint_env.setenv("ETL_REDIS_KEY_PREFIX", prefix)
    settings.cache_clear()
    yield prefix
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_down(maint_env: pytest.MonkeyPatch) -> int:
    """``redis_default`` pointing at a closed loopback port; returns the port."""
    from reliable_etl.config import settings

    port = closed_port()
    maint_env.setenv("AIRFLOW_CONN_REDIS_DEFAULT", redis_conn(port=port))
    settings.cache_clear()
    return port


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[scratch.PrivateServer]:
    with scratch.PrivateServer(tmp_path_factory.mktemp("private") / "pg") as server:
        yield server


@pytest.fixture
def private_warehouse(private_pg: scratch.PrivateServer, maint_env: pytest.MonkeyPatch) -> Iterator[str]:
    """A database of its own on the private server, as the ``warehouse`` Connection, schema applied."""
    from reliable_etl.ops import init_schema

    if not private_pg.is_running():
        private_pg.start()
    name = scratch.create_database(private_pg.uri, prefix="etl_private")
    maint_env.setenv("AIRFLOW_CONN_WAREHOUSE", scratch.airflow_conn_uri(private_pg.uri, name))
    init_schema()
    yield scratch.libpq_uri(private_pg.uri, name)
    if not private_pg.is_running():
        private_pg.start()
    scratch.drop_database(private_pg.uri, name)


@pytest.fixture
def slack(maint_env: pytest.MonkeyPatch) -> Iterator[SlackReceiver]:
    state = SlackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {"conn_type": "slackwebhook", "host": f"{state.url}/services", "password": "T0/B0/maintenance"}
    maint_env.setenv("AIRFLOW_CONN_NOTIFY_SLACK", json.dumps(conn))
    for other in ("NOTIFY_TEAMS", "NOTIFY_EMAIL"):
        maint_env.delenv(f"AIRFLOW_CONN_{other}", raising=False)
    yield state
    server.shutdown()
    server.server_close()
