"""Test fixtures: a fresh PostgreSQL database for every test run, never a mock.

The server is chosen by etl.scratch: ETL_TEST_PG_URI, else 127.0.0.1:5432 when it answers,
else an embedded PostgreSQL (pgserver); ETL_TEST_EMBEDDED=1 forces the embedded one. Each run
creates its own database and drops it at the end.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from etl import scratch

# Airflow reads AIRFLOW_HOME at import: keep DagBag and friends out of ~/airflow
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="etl-tests-airflow-"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"
REAL_CDNOW = SHARED / "data" / "fixed_width" / "CDNOW_master.txt.gz"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """An admin URI (libpq form) of the PostgreSQL server the run uses (see etl.scratch)."""
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
