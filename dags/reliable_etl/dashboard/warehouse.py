"""The dashboard's reads of the warehouse: one SQL file each (``include/sql/dashboard``), values bound.

A request reads through one `Reader`: one connection, one read-only REPEATABLE READ transaction
(JIT off), so the figures of one answer come from one snapshot and the dashboard can never
write. Every row is masked (``reliable_etl.dashboard.secrets``) before a route sees it. A warehouse that
does not answer is a 503 naming the server (never its credentials).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

import psycopg
from fastapi import Depends, HTTPException, status
from psycopg.rows import dict_row

from reliable_etl import db
from reliable_etl.dashboard.secrets import mask

log = logging.getLogger(__name__)

_schema = {"checked": False}


class Reader:
    """Rows of the dashboard's SQL files, masked, in the request's transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def rows(self, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            name = name if "/" in name else f"dashboard/{name}"  # another area's query, named in full
            return mask(cur.execute(db.load_sql(name), params or {}).fetchall())


def _ensure_schema() -> None:
    """A new warehouse gets the bundle's schema once per process, so the page shows it empty."""
    if _schema["checked"]:
        return
    from reliable_etl.ops.schema import init_schema, schema_is_current

    if not schema_is_current():
        init_schema()
    _schema["checked"] = True


def unavailable(exc: Exception) -> HTTPException:
    first_line = str(mask(str(exc))).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{db.describe_warehouse()} is unavailable: {first_line}")


def reader() -> Iterator[Reader]:
    """The request's `Reader` (a FastAPI dependency)."""
    try:
        _ensure_schema()
        conn = db.connect(application_name="etl dashboard")
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
