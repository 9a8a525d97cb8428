"""Test fixtures: a fresh PostgreSQL database for every test run, never a mock.

The server is chosen by reliable_etl_dev.scratch: ETL_TEST_PG_URI, else 127.0.0.1:5432 when it answers,
else an embedded PostgreSQL (pgserver); ETL_TEST_EMBEDDED=1 forces the embedded one. Each run
creates its own database and drops it at the end.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import reliable_etl_dev
from reliable_etl_dev import scratch

# Airflow reads AIRFLOW_HOME at import: keep DagBag and friends out of ~/airflow
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="etl-tests-airflow-"))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REAL_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"
REAL_CDNOW = SHARED / "data" / "fixed_width" / "CDNOW_master.txt.gz"


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

SAMPLE_CSV = reliable_etl_dev.SAMPLE_CSV


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

GITHUB_SCHEMA = SHARED / "fixtures" / "github" / "schema.graphql"
SYNC_TABLES = (
    "sync.github_pull_requests, sync.jira_issues, ops.sync_jobs, ops.sync_transitions,"
    " ops.sync_sweep_ids, ops.rejected_rows, ops.pipeline_runs"
)


def fake_connections(url: str, jira_mode: str = "cloud") -> dict[str, str]:
    """The two Connections pointing at a fake server, as environment variables."""
    return {
        "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps({"conn_type": "http", "host": url, "password": "fake-token"}),
        "AIRFLOW_CONN_JIRA_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": url,
                "login": "me@example.com",
                "password": "fake-token",
                "extra": {"deployment": jira_mode},
            }
        ),
    }


# Fast and deterministic: retries in milliseconds, short HTTP timeouts, no Jira safety lag.
SYNC_TEST_SETTINGS = {
    "ETL_RETRY_WAIT_MIN": "0.001",
    "ETL_RETRY_WAIT_MAX": "0.01",
    "ETL_SYNC_HTTP_TIMEOUT": "1",
    "ETL_SYNC_HTTP_ATTEMPTS": "4",
    "ETL_SYNC_MAX_SLEEP_SECONDS": "1.5",
    "ETL_JIRA_SAFETY_LAG_SECONDS": "0",
    "ETL_JIRA_OVERLAP_SECONDS": "300",
    "ETL_SYNC_PAGE_SIZE": "50",
}


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


def _iso(value: str | None):
    import datetime as dt

    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def github_truth(fake, repo: str) -> list[dict]:
    """The fake's pull requests, read independently of the sync's own mapping."""
    return [
        {
            "id": pr["id"],
            "number": pr["number"],
            "title": pr["title"],
            "state": pr["state"],
            "is_draft": pr["isDraft"],
            "author_login": (pr["author"] or {}).get("login"),
            "created_at": _iso(pr["createdAt"]),
            "updated_at": _iso(pr["updatedAt"]),
            "closed_at": _iso(pr["closedAt"]),
            "merged_at": _iso(pr["mergedAt"]),
            "additions": pr["additions"],
            "deletions": pr["deletions"],
            "changed_files": pr["changedFiles"],
            "url": pr["url"],
            "labels": [label["name"] for label in pr["labels"]["nodes"]],
        }
        for pr in fake.github.pull_requests(repo)
    ]


def github_rows(conn: psycopg.Connection, repo: str) -> list[dict]:
    """Our live pull requests of a repository, in the shape of github_truth."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select id, number, title, state, is_draft, author_login, created_at, updated_at, closed_at,"
            " merged_at, additions, deletions, changed_files, url, labels"
            " from sync.github_pull_requests where repo = %s and deleted_at is null order by number",
            (repo,),
        ).fetchall()


def jira_truth(fake, project: str) -> list[dict]:
    """The fake's issues of a project: id, key, and the synced fields as delivered."""
    from reliable_etl.config import settings

    wanted = settings().jira_fields
    return [
        {
            "id": int(issue["id"]),
            "key": issue["key"],
            "updated_at": _jira_ts(issue["fields"]["updated"]),
            "fields": {name: issue["fields"].get(name) for name in wanted if name in issue["fields"]},
        }
        for issue in sorted(fake.jira.issues(project), key=lambda i: int(i["id"]))
    ]


def _jira_ts(value: str):
    import datetime as dt

    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def jira_rows(conn: psycopg.Connection, project: str) -> list[dict]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select id, key, updated_at, fields from sync.jira_issues"
            " where project_key = %s and deleted_at is null order by id",
            (project,),
        ).fetchall()


def sync_job(conn: psycopg.Connection, service: str, entity: str) -> dict:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select * from ops.sync_jobs where service = %s and entity = %s", (service, entity)
        ).fetchone()


def transitions(conn: psycopg.Connection, service: str, entity: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select from_status, to_status from ops.sync_transitions where service = %s and entity = %s order by id",
        (service, entity),
    ).fetchall()
    return [tuple(r) for r in rows]


def refetched_pages(fake, service: str, entity: str) -> int:
    """How many page requests asked for a page that had been asked for before."""
    keys = [repr(r.key) for r in fake.page_requests(service, entity)]
    return len(keys) - len(set(keys))


# --- fixed-width files fixtures -----------------------------------------------------------

STUDENTS = {
    "primary_keys": {"students": ["student_id"]},
    "file_to_table": {"students.txt": "students"},
    "file_layouts": [
        {
            "filename": "students.txt",
            "table_name": "students",
            "encoding": "cp1252",
            "line_ending": "lf",
            "header_lines": 1,
            "record_length": 40,
            "columns": [
                {"name": "student_id", "start": 0, "width": 6, "type": "int", "required": True},
                {"name": "name", "start": 6, "width": 16, "required": True},
                {"name": "birth", "start": 22, "width": 10, "type": "date", "format": "%m/%d/%Y"},
                {"name": "gpa", "start": 32, "width": 4, "type": "decimal", "implied_decimals": 2},
                {"name": "grade", "start": 36, "width": 4, "type": "int"},
            ],
            "field_mapping": {"student_id": "student_id", "name": "name", "birth": "birth_date", "gpa": "gpa"},
        }
    ],
}


def student(sid: int, name: str, birth: str = "02/29/2008", gpa: str = "0350", grade: str = "  10") -> str:
    return f"{sid:06d}{name:<16}{birth:<10}{gpa:>4}{grade:>4}"


def students_file(path: Path, rows: list[str], *, encoding: str = "cp1252", ending: str = "\n") -> Path:
    path.write_bytes(("HEADER students export\n" + "".join(r + ending for r in rows)).encode(encoding))
    return path


CLASS = [student(n, name) for n, name in enumerate(["Zoë", "Ana", "Björn", "Chloé", "Dan", "Eve"], start=1)]


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
    conn.execute("truncate ops.file_loads, ops.file_snapshots, ops.rejected_rows, ops.pipeline_runs")
    init_schema()
    return dirs
