"""Warehouse connections: the operator's Connection (``conn_id``, default ``warehouse``).

Every connection carries statement and lock timeouts. A unit of work (a day, a month,
a page, a file) runs in one transaction under a PostgreSQL advisory lock named after
the unit, so two writers never touch the same unit at once.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib.metadata import entry_points

import psycopg
from psycopg import sql as pgsql

from reliable_etl.config import settings
from reliable_etl.errors import ConfigurationError, UnitBusyError

log = logging.getLogger(__name__)


DEFAULT_WAREHOUSE_GROUP = "reliable_etl.default_warehouse"  # a development bench's fallback (entry points)

_conn_id_override: str | None = None  # set by an operator for its task: `use_warehouse`


def warehouse_conn_id() -> str:
    """The Connection every statement goes to: the running operator's ``conn_id``, else ``ETL_WAREHOUSE_CONN_ID``."""
    return _conn_id_override or settings().warehouse_conn_id


@contextmanager
def use_warehouse(conn_id: str | None) -> Iterator[None]:
    """Send every statement of this block to Connection ``conn_id`` (ledger and logs included).

    Process-wide on purpose: an Airflow task is one process running one operator, and the
    threads it starts (a sync's page workers, the log sink's flush) must use the same warehouse.
    """
    global _conn_id_override  # noqa: PLW0603 - one task per process, see above
    before, _conn_id_override = _conn_id_override, conn_id or None
    try:
        yield
    finally:
        _conn_id_override = before


def _connection_defined(conn_id: str) -> bool:
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return True
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def _default_warehouse() -> str | None:
    """The URI a development bench offers when no Connection is set (``make setup`` installs one), or None."""
    for entry_point in entry_points(group=DEFAULT_WAREHOUSE_GROUP):
        return entry_point.load()()
    return None


def ensure_warehouse() -> str:
    """The id of the warehouse Connection in use (`warehouse_conn_id`), once it resolves.

    The default Connection (``ETL_WAREHOUSE_CONN_ID``) falls back to a development bench's
    embedded server when one is installed; otherwise a missing Connection is a configuration
    error naming the variable to set.
    """
    return _resolve(warehouse_conn_id())


@cache
def _resolve(conn_id: str) -> str:
    if _connection_defined(conn_id):
        return conn_id
    if conn_id == settings().warehouse_conn_id and (uri := _default_warehouse()):
        os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
        return conn_id
    raise ConfigurationError(
        f"no Airflow Connection {conn_id!r} for the warehouse: define it (Admin > Connections, or"
        f" AIRFLOW_CONN_{conn_id.upper()}=postgresql://USER:PASSWORD@HOST:5432/DATABASE)"
    )


def describe_warehouse() -> str:
    """The warehouse for messages: 'PostgreSQL at host:port/db' (never login or password)."""
    from airflow.sdk import BaseHook

    conn_id = ensure_warehouse()
    conn = BaseHook.get_connection(conn_id)
    host = urllib.parse.unquote(conn.host or "localhost")
    where = f"{host}:{conn.port or 5432}" if not host.startswith("/") else f"the socket in {host}"
    return f"the warehouse (PostgreSQL at {where}, database {conn.schema or 'postgres'!r}, connection {conn_id!r})"


def connect(*, autocommit: bool = False, application_name: str = "etl") -> psycopg.Connection:
    """A psycopg 3 connection to the warehouse with statement and lock timeouts set."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    cfg = settings()
    options = (
        f"-c statement_timeout={cfg.statement_timeout_ms} -c lock_timeout={cfg.lock_timeout_ms}"
        # a killed client must not leave its statement running and committing
        " -c client_connection_check_interval=2000"
        " -c application_name=" + application_name.replace(" ", r"\ ")
    )
    conn = PostgresHook(postgres_conn_id=ensure_warehouse(), options=options).get_conn()
    conn.autocommit = autocommit
    return conn


@cache
def load_sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` of the package (``ETL_SQL_DIR`` overrides the folder)."""
    return (settings().sql_dir / f"{name}.sql").read_text(encoding="utf-8")


def run_sql(conn: psycopg.Connection, name: str, params: dict | None = None) -> psycopg.Cursor:
    """Execute one SQL file with bound parameters and return its cursor."""
    return conn.execute(load_sql(name), params or {})


def composed_sql(name: str, **parts: pgsql.Composable) -> pgsql.Composed:
    """A SQL file whose ``{name}`` placeholders take identifiers or literals (never raw text)."""
    return pgsql.SQL(load_sql(name)).format(**parts)  # type: ignore[arg-type]


def run_script(conn: psycopg.Connection, name: str) -> None:
    """Execute a parameterless multi-statement SQL file (DDL)."""
    conn.execute(pgsql.SQL(load_sql(name)))  # type: ignore[arg-type]


def advisory_lock(conn: psycopg.Connection, key: str, *, shared: bool = False) -> None:
    """Take the transaction-scoped advisory lock of a unit; wait up to lock_timeout.

    ``shared`` locks let many writers of parts (days) exclude one writer of the whole (month).

    The loser of a race waits; past ``ETL_LOCK_TIMEOUT_MS`` it fails with the name of the
    unit and the session holding it (a transient error: the retry layer tries again).
    """
    try:
        with conn.transaction():  # a savepoint, so a timeout leaves the caller's transaction usable
            function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
            conn.execute(pgsql.SQL("select {}(hashtextextended(%s, 0))").format(pgsql.Identifier(function)), (key,))
    except psycopg.errors.LockNotAvailable as exc:
        raise UnitBusyError(f"{key} is being written by {lock_holder(conn, key)}; try again when it finishes") from exc


def try_session_lock(conn: psycopg.Connection, key: str) -> bool:
    """Take the session-level advisory lock ``key`` if free; held until the connection closes.

    For work spanning many transactions (a sync of one entity): a process killed mid-way
    loses its connection, and with it the lock, so the next worker can tell it is gone.
    """
    return conn.execute("select pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]


def try_xact_lock(conn: psycopg.Connection, key: str) -> bool:
    """Take the transaction-scoped advisory lock ``key`` if it is free right now (no wait)."""
    return conn.execute("select pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)).fetchone()[0]


def lock_holder(conn: psycopg.Connection, key: str) -> str:
    """Who holds the advisory lock ``key``, for error messages."""
    holder = conn.execute(load_sql("ops/select_lock_holder"), {"key": key}).fetchone()
    if not holder:
        return "another session"
    since = f", since {holder[2]:%Y-%m-%d %H:%M:%S}" if holder[2] else ""
    return f"pid {holder[0]} ({holder[1]}){since}"


@contextmanager
def transaction(*, lock: str | None = None, application_name: str = "etl") -> Iterator[psycopg.Connection]:
    """One connection, one transaction, optionally under the advisory lock of ``lock``."""
    with connect(application_name=application_name) as conn, conn.transaction():
        if lock:
            advisory_lock(conn, lock)
        yield conn
