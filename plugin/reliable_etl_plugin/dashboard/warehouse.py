"""The dashboard's reads of the warehouse: one SQL file each (``sql/`` beside this module), values bound.

A request reads through one `Reader`: one connection, one read-only REPEATABLE READ transaction
(JIT off), so the figures of one answer come from one snapshot and the dashboard can never
write. Every row is masked (``reliable_etl_plugin.dashboard.secrets``) before a route sees it.
A warehouse that does not answer, or holds no bundle schema yet, is a 503 naming the server
(never its credentials).

The tables are the bundle's (``reliable_etl``, which creates them); the plugin reads them with
its own queries, since the api-server has no bundle to import.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, status
from psycopg.rows import dict_row

from reliable_etl_plugin import config
from reliable_etl_plugin.dashboard.secrets import mask

log = logging.getLogger(__name__)

APPLICATION_NAME = "etl dashboard"


@cache
def load_sql(name: str) -> str:
    """The text of ``sql/<name>.sql`` beside this module."""
    return files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def connect() -> psycopg.Connection:
    """A psycopg 3 connection to the warehouse Connection, with the bundle's statement timeout."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    options = f"-c statement_timeout={config.statement_timeout_ms()} -c application_name=" + APPLICATION_NAME.replace(
        " ", r"\ "
    )
    return PostgresHook(postgres_conn_id=config.warehouse_conn_id(), options=options).get_conn()


def describe_warehouse() -> str:
    """'the warehouse (PostgreSQL at host:port, database 'x', connection 'warehouse')', never credentials."""
    from airflow.sdk import BaseHook

    conn_id = config.warehouse_conn_id()
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # describing must not hide the error being reported
        return f"the warehouse (connection {conn_id!r})"
    host = urllib.parse.unquote(conn.host or "localhost")
    where = f"{host}:{conn.port or 5432}" if not host.startswith("/") else f"the socket in {host}"
    return f"the warehouse (PostgreSQL at {where}, database {conn.schema or 'postgres'!r}, connection {conn_id!r})"


class Reader:
    """Rows of the dashboard's SQL files, masked, in the request's transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def rows(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            with self.conn.cursor(row_factory=dict_row) as cur:
                return mask(cur.execute(load_sql(name), params or {}).fetchall())
        except psycopg.errors.UndefinedTable as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"{describe_warehouse()} holds no bundle schema yet ({mask(str(exc)).splitlines()[0]}):"
                " run `etl init` (the deployment's init job does) or let the first pipeline run create it",
            ) from None


def unavailable(exc: Exception) -> HTTPException:
    first_line = str(mask(str(exc))).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{describe_warehouse()} is unavailable: {first_line}")


def reader() -> Iterator[Reader]:
    """The request's `Reader` (a FastAPI dependency)."""
    try:
        conn = connect()
        conn.execute("set transaction isolation level repeatable read, read only")
        # short queries: compiling them (JIT, once statistics make their cost look high) took 0.8 s
        conn.execute("set local jit = off")
    except psycopg.OperationalError as exc:
        log.warning("dashboard: the warehouse is unavailable: %s", mask(str(exc)).strip().splitlines()[0])
        raise unavailable(exc) from None
    try:
        yield Reader(conn)
    finally:
        conn.rollback()
        conn.close()


ReaderDep = Annotated[Reader, Depends(reader)]


def record_action(user: str, action: str, run_id: str | None, message: str, metadata: dict[str, Any]) -> None:
    """One line in ``ops.pipeline_logs`` (pipeline ``dashboard``) for an action a user took here.

    Best effort, as the bundle's own logs: the action is done and in Airflow's audit log already.
    """
    row = {"run_id": run_id, "stage": action, "message": mask(message), "metadata": mask(metadata), "user": user}
    try:
        with connect() as conn:
            conn.execute(load_sql("insert_action_log"), {**row, "metadata": psycopg.types.json.Jsonb(row["metadata"])})
    except psycopg.Error as exc:
        log.warning("dashboard: %s not recorded in ops.pipeline_logs: %s", action, mask(str(exc)).splitlines()[0])
