"""optimize_database: VACUUM (ANALYZE) and REINDEX where the statistics say so, never blocking writers.

Tables are chosen from ``pg_stat_user_tables`` (select_vacuum_candidates.sql): dead tuples above
autovacuum's rule ``50 + 0.2 * reltuples``, never analyzed, or modified since the last analyze
above autoanalyze's rule. Autovacuum is off on some servers (the developers' among them), so
this job is what keeps statistics and visibility maps current there. Indexes are rebuilt when
they are ``ETL_OPTIMIZE_INDEX_BLOAT`` times larger than their estimated size and at least
``ETL_OPTIMIZE_INDEX_MIN_MB`` (select_bloated_indexes.sql).

How it stays out of the way:

- ``VACUUM (ANALYZE, SKIP_LOCKED, TRUNCATE false)``: takes SHARE UPDATE EXCLUSIVE, which
  writers do not conflict with; a table someone locks is skipped, not waited for; no
  truncation phase (it would take an ACCESS EXCLUSIVE lock at the end).
- ``REINDEX INDEX CONCURRENTLY``, in autocommit (it refuses to run in a transaction).
- Every statement runs under ``lock_timeout = ETL_OPTIMIZE_LOCK_TIMEOUT_MS``. A failed
  concurrent rebuild leaves an invalid ``<index>_ccnew`` index: it is dropped (CONCURRENTLY)
  at once, and at the start of every run for leftovers of a crash.

When the warehouse goes down mid-way, the operation under way fails, the rest are skipped,
and the result is partial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql as pgsql

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.maintenance import services
from reliable_etl.maintenance.services import connection_lost, describe
from reliable_etl.ops.logs import PipelineLogger

JOB = "optimize_database"


@dataclass
class Operation:
    kind: str  # vacuum_analyze | reindex | drop_invalid_index
    target: str  # schema.table or schema.index
    reason: str
    status: str = "pending"  # success | failed | skipped
    duration_ms: int | None = None
    error: str | None = None


@dataclass
class OptimizeResult:
    """The seed's shape: ``{status, successful_operations, failed_operations, total_operations, success_rate}``."""

    operations: list[Operation] = field(default_factory=list)
    postgres_available: bool = True
    errors: list[str] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(op.status == status for op in self.operations)

    @property
    def status(self) -> str:
        if not self.postgres_available and not self._count("success"):
            return "failed"
        return "partial" if self.errors or self._count("failed") or self._count("skipped") else "success"

    def as_dict(self) -> dict:
        total = len(self.operations)
        ok = self._count("success")
        return {
            "status": self.status,
            "successful_operations": ok,
            "failed_operations": self._count("failed"),
            "skipped_operations": self._count("skipped"),
            "total_operations": total,
            "success_rate": round(ok / total, 4) if total else 1.0,
            "postgres_available": self.postgres_available,
            "operations": [asdict(op) for op in self.operations],
            "errors": self.errors,
        }


def _statement(op: Operation) -> pgsql.Composed:
    schema, name = op.target.split(".", 1)
    ident = pgsql.Identifier(schema, name)
    if op.kind == "vacuum_analyze":
        return pgsql.SQL("vacuum (analyze, skip_locked, truncate false) {}").format(ident)
    if op.kind == "reindex":
        return pgsql.SQL("reindex index concurrently {}").format(ident)
    return pgsql.SQL("drop index concurrently if exists {}").format(ident)


def _invalid_leftovers(conn: psycopg.Connection) -> list[Operation]:
    rows = db.run_sql(conn, "maintenance/select_invalid_rebuild_indexes").fetchall()
    return [
        Operation("drop_invalid_index", f"{s}.{i}", "left invalid by a failed REINDEX CONCURRENTLY") for s, i in rows
    ]


def plan(conn: psycopg.Connection) -> list[Operation]:
    """The operations the statistics ask for: leftovers to drop, then tables to vacuum."""
    conn.execute("select pg_stat_clear_snapshot()")
    ops = _invalid_leftovers(conn)
    for schema, table, dead, reltuples, modified, reason in db.run_sql(
        conn, "maintenance/select_vacuum_candidates"
    ).fetchall():
        detail = f"{reason} ({dead:,} dead, {modified:,} modified, ~{reltuples:,} rows)"
        ops.append(Operation("vacuum_analyze", f"{schema}.{table}", detail))
    return ops


def bloated_indexes(conn: psycopg.Connection) -> list[Operation]:
    cfg = settings()
    rows = db.run_sql(
        conn,
        "maintenance/select_bloated_indexes",
        {"min_bytes": int(cfg.optimize_index_min_mb * 1024 * 1024), "bloat": cfg.optimize_index_bloat},
    ).fetchall()
    return [
        Operation(
            "reindex",
            f"{schema}.{index}",
            f"{size / 2**20:.1f} MB, {bloat}x its estimate of {expected / 2**20:.1f} MB (table {table})",
        )
        for schema, index, table, size, expected, bloat in rows
    ]


def _drop_leftovers(conn: psycopg.Connection, log: PipelineLogger) -> None:
    for leftover in _invalid_leftovers(conn):
        try:
            conn.execute(_statement(leftover))
            log.info("optimize: dropped %s, left by the failed rebuild", leftover.target)
        except psycopg.Error as exc:
            if connection_lost(exc):
                raise
            log.warning("optimize: %s stays until the next run: %s", leftover.target, describe(exc))


def _run(conn: psycopg.Connection, op: Operation, log: PipelineLogger) -> None:
    started = time.monotonic()
    try:
        conn.execute(_statement(op))
        op.status = "success"
    except psycopg.Error as exc:
        op.status, op.error = "failed", describe(exc)
        if connection_lost(exc) or conn.closed or conn.broken:
            raise
        if op.kind == "reindex":  # its half-built copy must not stay behind, slowing every write
            _drop_leftovers(conn, log)
    finally:
        op.duration_ms = round((time.monotonic() - started) * 1000)
    log.info(
        "optimize: %s %s: %s in %d ms%s",
        op.kind,
        op.target,
        op.status,
        op.duration_ms,
        f" ({op.error})" if op.error else "",
        metadata={"operation": asdict(op)},
    )


def optimize_database(
    *, run_id: str | None = None, log: PipelineLogger | None = None, progress: Callable[[str], None] | None = None
) -> OptimizeResult:
    """VACUUM (ANALYZE) the tables and REINDEX the indexes the statistics point at; a partial result on outage."""
    cfg = settings()
    log = log or services.logger(JOB, run_id)
    step = progress or (lambda _name: None)
    result = OptimizeResult()
    try:
        with db.connect(autocommit=True, application_name=f"etl {JOB}") as conn:
            conn.execute(f"set lock_timeout = {int(cfg.optimize_lock_timeout_ms)}")
            result.operations = plan(conn)
            log.info("optimize: %d operations planned", len(result.operations))
            for op in result.operations:
                step(f"{op.kind} {op.target}")
                _run(conn, op, log)
            # the vacuums refreshed the statistics the index estimate reads
            rebuilds = bloated_indexes(conn)
            result.operations += rebuilds
            for op in rebuilds:
                step(f"{op.kind} {op.target}")
                _run(conn, op, log)
    except Exception as exc:
        if not connection_lost(exc):  # a statement's own failure (a lock timeout) is its operation's
            raise
        result.postgres_available = False
        result.errors.append(f"postgres: {describe(exc)}")
        for op in result.operations:
            if op.status == "pending":
                op.status = "skipped"
        log.warning("optimize: the warehouse is unavailable, the rest is skipped: %s", describe(exc))
    data = result.as_dict()
    log.info(
        "optimize: %s: %d of %d operations succeeded",
        data["status"],
        data["successful_operations"],
        data["total_operations"],
        metadata={key: value for key, value in data.items() if key != "operations"},
    )
    return result
