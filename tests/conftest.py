"""Test fixtures: a fresh PostgreSQL database for every test run, never a mock.

The server is chosen by reliable_etl_dev.scratch: ETL_TEST_PG_URI, else 127.0.0.1:5432 when it answers,
else an embedded PostgreSQL (pgserver); ETL_TEST_EMBEDDED=1 forces the embedded one. Each run
creates its own database and drops it at the end.

Fixtures only: the helpers and constants the tests share (table_fingerprint, the sync's truth
and rows, the students files, ...) are in the bench, ``reliable_etl_dev.testing``; import them
from there, never from conftest.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from reliable_etl_dev import scratch
from reliable_etl_dev.testing import SAMPLE_CSV
from reliable_etl_dev.testing.files import STUDENTS
from reliable_etl_dev.testing.sync import GITHUB_SCHEMA, SYNC_TABLES, SYNC_TEST_SETTINGS, fake_connections

# Airflow reads AIRFLOW_HOME at import: keep DagBag and friends out of ~/airflow
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="etl-tests-airflow-"))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """An admin URI (libpq form) of the PostgreSQL server the run uses (see reliable_etl_dev.scratch)."""
    with scratch.server() as (admin_uri, _source):
        yield admin_uri


@pytest.fixture(scope="session")
def warehouse_uri(pg_server: str) -> Iterator[str]:
    """A database of its own for this test run, set as the `warehouse` connection."""
    with scratch.database(pg_server) as name:
        uri = scratch.airflow_conn_uri(pg_server, name)
        os.environ["AIRFLOW_CONN_WAREHOUSE"] = uri
        yield uri


@pytest.fixture
def airflow_metadata_db(pg_server: str) -> Iterator[str]:
    """An empty PostgreSQL database for a real Airflow's metadata, as a SQLAlchemy URL."""
    with scratch.database(pg_server, prefix="etl_test_airflow") as name:
        yield scratch.sqlalchemy_uri(pg_server, name)


@pytest.fixture(scope="session")
def schema(warehouse_uri: str) -> str:
    from reliable_etl.ops import init_schema

    init_schema()
    return warehouse_uri


@pytest.fixture
def conn(schema: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test warehouse, for assertions."""
    from reliable_etl import db

    with db.connect(autocommit=True, application_name="etl tests") as c:
        yield c


@pytest.fixture
def clean_retail(conn: psycopg.Connection) -> psycopg.Connection:
    """Empty the retail and ops tables (the schema stays)."""
    conn.execute(
        "truncate bronze.retail_sales, bronze.retail_files, silver.fact_sales_daily, silver.day_fingerprint,"
        " gold.fact_sales_monthly, gold.fact_product_performance, gold.fact_country_sales,"
        " ops.processed_months, ops.check_results, ops.pipeline_checkpoint, ops.pipeline_logs, ops.pipeline_runs,"
        " ops.rejected_rows"
    )
    return conn


# --- retail fixtures (unit tests) -------------------------------------------------------


@pytest.fixture
def etl_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ETL_* variables for one test: ``etl_env.setenv(...)`` then ``settings.cache_clear()``.

    The settings cache is cleared again at teardown, after the variables are restored.
    """
    from reliable_etl.config import settings

    yield monkeypatch
    monkeypatch.undo()
    settings.cache_clear()


@pytest.fixture
def fast_retry(etl_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Retry waits of milliseconds, so tests exercise the policy without sleeping for it."""
    from reliable_etl.config import settings

    etl_env.setenv("ETL_RETRY_WAIT_MIN", "0.001")
    etl_env.setenv("ETL_RETRY_WAIT_MAX", "0.01")
    settings.cache_clear()
    return etl_env


@pytest.fixture
def sample_landing(tmp_path: Path) -> Path:
    """The shipped sample split into daily landing files (2011-01-24 .. 2011-02-06) in a tmp dir."""
    from reliable_etl.retail.landing import split_export

    landing = tmp_path / "landing"
    split_export(SAMPLE_CSV, landing)
    return landing


@pytest.fixture(autouse=True)
def _flush_etl_logs() -> Iterator[None]:
    """Write a test's buffered structured logs while its database still exists; the next test
    starts with an empty buffer, even if this one pointed the warehouse at a server it stopped."""
    yield
    import sys

    if logs := sys.modules.get("reliable_etl.ops.logs"):
        logs.flush_logs(force=True)
        for sink in logs._sinks:
            sink.buffer.clear()
            sink.unreachable, sink._retry_at, sink.dropped = False, 0.0, 0


# --- sync fixtures (a fake Jira and GitHub, never a mock) ----------------------------------


@pytest.fixture
def fake() -> Iterator:
    """A fake Jira + GitHub on a loopback port; GitHub validates queries on its real schema when present."""
    from reliable_etl_dev.fakes import FakeServer

    with FakeServer(github_schema_path=GITHUB_SCHEMA if GITHUB_SCHEMA.exists() else None) as srv:
        yield srv


@pytest.fixture
def sync_env(fake, etl_env: pytest.MonkeyPatch, conn: psycopg.Connection):
    """The fake server as the `github_default` / `jira_default` Connections, sync tables empty."""
    from reliable_etl.config import settings

    for key, value in {**fake_connections(fake.url), **SYNC_TEST_SETTINGS}.items():
        etl_env.setenv(key, value)
    settings.cache_clear()
    conn.execute(f"truncate {SYNC_TABLES}")
    return fake


# --- fixed-width files fixtures -----------------------------------------------------------


@pytest.fixture
def files_env(tmp_path: Path, etl_env: pytest.MonkeyPatch, conn: psycopg.Connection) -> dict[str, Path]:
    """A drop and an archive directory, the students layout, empty file tables and ledger."""
    from reliable_etl.config import settings
    from reliable_etl.ops import init_schema

    dirs = {"drop": tmp_path / "drop", "archive": tmp_path / "archive", "relationships": tmp_path / "rel.json"}
    dirs["drop"].mkdir()
    dirs["relationships"].write_text(json.dumps(STUDENTS))
    for key, value in {
        "ETL_FILES_RELATIONSHIPS": dirs["relationships"],
        "ETL_FILES_DROP_DIR": dirs["drop"],
        "ETL_FILES_ARCHIVE_DIR": dirs["archive"],
        "ETL_FILES_KEEP_SNAPSHOTS": "3",
    }.items():
        etl_env.setenv(key, str(value))
    settings.cache_clear()
    # emptied, not left to init_schema: it skips a script it has applied before
    conn.execute(
        "drop schema if exists files, files_snapshots cascade; create schema files; create schema files_snapshots"
    )
    conn.execute("truncate ops.file_loads, ops.file_snapshots, ops.rejected_rows, ops.pipeline_runs, ops.check_results")
    init_schema()
    return dirs
