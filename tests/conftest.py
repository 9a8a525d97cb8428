"""Test fixtures: a fresh PostgreSQL database for every test run, never a mock.

The server is ETL_TEST_PG_URI if set, else PostgreSQL on 127.0.0.1:5432 when it answers,
else the embedded PostgreSQL (pgserver) started in a temporary directory. Each run
creates its own database and drops it at the end.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

# Airflow reads AIRFLOW_HOME at import: keep DagBag and friends out of ~/airflow
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="etl-tests-airflow-"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"
REAL_CDNOW = SHARED / "data" / "fixed_width" / "CDNOW_master.txt.gz"


def _local_pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An admin URI (libpq form) of the PostgreSQL server the run uses."""
    if uri := os.environ.get("ETL_TEST_PG_URI"):
        yield uri
    elif os.environ.get("ETL_TEST_EMBEDDED") != "1" and _local_pg_answers():
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
        yield server.get_uri()
        server.cleanup()


def _to_airflow_uri(libpq_uri: str, dbname: str) -> str:
    """The same server as an Airflow connection URI (socket directories URL-encoded in the host)."""
    info = psycopg.conninfo.conninfo_to_dict(libpq_uri)
    host = info.get("host", "127.0.0.1")
    host_part = host.replace("/", "%2F") if host.startswith("/") else f"{host}:{info.get('port', 5432)}"
    return f"postgresql://{info.get('user', 'postgres')}@{host_part}/{dbname}"


@pytest.fixture(scope="session")
def warehouse_uri(pg_server: str) -> Iterator[str]:
    """A database of its own for this test run, set as the `warehouse` connection."""
    name = f"etl_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    uri = _to_airflow_uri(pg_server, name)
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = uri
    yield uri
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def airflow_metadata_db(pg_server: str) -> Iterator[str]:
    """An empty PostgreSQL database for a real Airflow's metadata, as a SQLAlchemy URL."""
    name = f"etl_test_airflow_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(pg_server)
    host = info.get("host", "127.0.0.1")
    user = info.get("user", "postgres")
    if host.startswith("/"):
        yield f"postgresql+psycopg2://{user}@/{name}?host={host}"
    else:
        yield f"postgresql+psycopg2://{user}@{host}:{info.get('port', 5432)}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def schema(warehouse_uri: str) -> str:
    from etl.ops import init_schema

    init_schema()
    return warehouse_uri


@pytest.fixture
def conn(schema: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test warehouse, for assertions."""
    from etl import db

    with db.connect(autocommit=True, application_name="etl tests") as c:
        yield c


@pytest.fixture
def clean_retail(conn: psycopg.Connection) -> psycopg.Connection:
    """Empty the retail and ops tables (the schema stays)."""
    conn.execute(
        "truncate bronze.retail_sales, bronze.retail_files, silver.fact_sales_daily, silver.day_fingerprint,"
        " gold.fact_sales_monthly, gold.fact_product_performance, gold.fact_country_sales,"
        " ops.processed_months, ops.pipeline_checkpoint, ops.pipeline_logs, ops.pipeline_runs, ops.rejected_rows"
    )
    return conn


def table_fingerprint(conn: psycopg.Connection, table: str) -> tuple[int, str, str]:
    """(rows, md5 of the content, md5 of the row versions): equal xmins prove nothing was rewritten."""
    row = conn.execute(
        f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')),"
        f" md5(coalesce(string_agg(t.xmin::text, ',' order by t.xmin::text), '')) from {table} as t"
    ).fetchone()
    return row[0], row[1], row[2]


# --- retail fixtures (unit tests) -------------------------------------------------------

SAMPLE_CSV = Path(__file__).resolve().parents[1] / "include" / "sample" / "online_retail_sample.csv"


@pytest.fixture
def etl_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set ETL_* variables for one test: ``etl_env.setenv(...)`` then ``settings.cache_clear()``.

    The settings cache is cleared again at teardown, after the variables are restored.
    """
    from etl.config import settings

    yield monkeypatch
    monkeypatch.undo()
    settings.cache_clear()


@pytest.fixture
def fast_retry(etl_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Retry waits of milliseconds, so tests exercise the policy without sleeping for it."""
    from etl.config import settings

    etl_env.setenv("ETL_RETRY_WAIT_MIN", "0.001")
    etl_env.setenv("ETL_RETRY_WAIT_MAX", "0.01")
    settings.cache_clear()
    return etl_env


@pytest.fixture
def sample_landing(tmp_path: Path) -> Path:
    """The shipped sample split into daily landing files (2011-01-24 .. 2011-02-06) in a tmp dir."""
    from etl.retail.landing import split_export

    landing = tmp_path / "landing"
    split_export(SAMPLE_CSV, landing)
    return landing


@pytest.fixture(autouse=True)
def _flush_etl_logs() -> Iterator[None]:
    """Write a test's buffered structured logs while its database still exists."""
    yield
    import sys

    if logs := sys.modules.get("etl.ops.logs"):
        logs.flush_logs()
