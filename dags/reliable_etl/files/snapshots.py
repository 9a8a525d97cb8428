"""Snapshots of the loaded tables, and the rollback that restores one exactly.

A load keeps the previous contents of each table it replaces as ``files_snapshots.<table>__<time>``
(the table itself, renamed). ``rollback`` puts a snapshot back: in one transaction the current
table becomes a snapshot too (so the rollback can be undone), and a copy of the chosen snapshot
takes its place; the chosen snapshot stays kept. The copy's checksum must equal the snapshot's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from reliable_etl import db
from reliable_etl.errors import BadInputError
from reliable_etl.files import PIPELINE
from reliable_etl.files.layouts import identifier
from reliable_etl.files.load import SCHEMA, SNAPSHOTS, swap_out
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.ops.units import unit_of_work
from reliable_etl.retry import call_with_retry


@dataclass(frozen=True)
class RollbackResult:
    table: str
    restored: str  # the snapshot put back
    saved_as: str | None  # the snapshot the replaced contents became
    rows: int
    checksum: str


def snapshots(table: str | None = None) -> list[dict]:
    """Kept snapshots, newest first per table."""
    with db.connect(autocommit=True, application_name="etl files") as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(db.load_sql("files/select_snapshots"), {"table_name": table}).fetchall()


def checksum(conn: psycopg.Connection, schema: str, table: str) -> tuple[int, str]:
    """(rows, md5 of the rows in a fixed order): equal for equal contents."""
    row = conn.execute(db.composed_sql("files/select_table_checksum", table=pgsql.Identifier(schema, table))).fetchone()
    return row[0], row[1]


def rollback(table: str, to: str | None = None, *, run_id: str) -> RollbackResult:
    """Restore ``files.<table>`` from snapshot ``to`` (default: the newest), retried on transient errors.

    ``table`` as relationships.json names it, or as its identifier (``DF_8865`` is ``df_8865``)."""
    table = identifier(table, "rollback --table")
    kept = [s["snapshot"] for s in snapshots(table)]
    if not kept:
        raise BadInputError(f"{table}: no snapshot is kept (nothing was replaced yet, or it is not a loaded table)")
    target = to or kept[0]
    if target not in kept:
        raise BadInputError(f"{table}: no snapshot {target!r}; kept: {', '.join(kept)}")
    log = PipelineLogger(PIPELINE, run_id, stage="rollback")
    return call_with_retry(_rollback_once, table, target, run_id=run_id, log=log)


def _rollback_once(table: str, target: str, *, run_id: str, log: PipelineLogger) -> RollbackResult:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    with unit_of_work(PIPELINE, run_id, f"rollback:{table}", log=log, lock=f"files:table:{table}") as unit:
        conn = unit.conn
        with unit.stage("rollback") as cp:
            expected = checksum(conn, SNAPSHOTS, target)
            saved_as = swap_out(conn, table, stamp, reason=f"before rollback to {target} (run {run_id})")
            conn.execute(
                db.composed_sql(
                    "files/copy_table",
                    target=pgsql.Identifier(SCHEMA, table),
                    source=pgsql.Identifier(SNAPSHOTS, target),
                )
            )
            restored = checksum(conn, SCHEMA, table)
            if restored != expected:  # cannot happen short of a bug: never commit a different table
                raise RuntimeError(f"{table}: restored {restored}, snapshot {target} holds {expected}")
            cp.value = restored[1]
            cp.metadata.update(restored=target, saved_as=saved_as, rows=restored[0])
    log.info("%s restored from %s (%d rows, md5 %s); the replaced contents are %s", table, target, *restored, saved_as)
    return RollbackResult(table, target, saved_as, *restored)
