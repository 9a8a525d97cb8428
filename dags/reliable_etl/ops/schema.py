"""Schema bootstrap: every script of the bundle applied once, in order, under an advisory lock.

Every command and task starts by making sure the schema is current. That check reads
``ops.schema_migrations`` (one query, no lock on any live table) and does nothing more when
every script is recorded with the hash of its current text. Only a new or changed script
is applied: in ONE transaction under the advisory lock ``etl:init_schema``, in the order of
``SCHEMA_SCRIPTS``, after reading the ledger again under the lock (a concurrent bootstrap
may have applied it meanwhile). The scripts stay idempotent (``create ... if not exists``,
``add column if not exists``), so a changed one is simply applied again.

Why not DDL at every start: ``create index if not exists`` takes a ShareLock on its table
even when the index exists, and deadlocks with a load holding RowExclusiveLock there.
"""

from __future__ import annotations

import hashlib

import psycopg

from reliable_etl import db
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.retry import retrying

LEDGER = "ops/create_schema_migrations"
SCHEMA_SCRIPTS = (
    "ops/create_ops_schema",
    "retail/create_retail_schema",
    "sync/create_sync_schema",
    "sync/create_sync_functions",
    "sync/create_sync_views",
    "files/create_files_schema",
    "maintenance/create_maintenance_schema",
)
LOCK = "etl:init_schema"


def _digest(script: str) -> str:
    return hashlib.sha256(db.load_sql(script).encode()).hexdigest()


def _pending(conn: psycopg.Connection) -> list[str]:
    """The scripts not applied from their current text, in order."""
    try:
        with conn.transaction():  # a savepoint inside the migration, a transaction outside it
            applied = dict(db.run_sql(conn, "ops/select_schema_migrations").fetchall())
    except psycopg.errors.UndefinedTable:  # a new warehouse: not even the ledger yet
        applied = {}
    return [script for script in SCHEMA_SCRIPTS if applied.get(script) != _digest(script)]


def _migrate(log: PipelineLogger) -> list[str]:
    with db.connect(autocommit=True, application_name="etl init") as conn:
        if not _pending(conn):
            return []
        with conn.transaction():
            db.advisory_lock(conn, LOCK)
            db.run_script(conn, LEDGER)
            pending = _pending(conn)  # again, under the lock: another process may have applied them
            for script in pending:
                db.run_script(conn, script)
                db.run_sql(conn, "ops/upsert_schema_migration", {"script": script, "sha256": _digest(script)})
    if pending:
        log.info("schema: applied %s", ", ".join(pending), metadata={"scripts": pending})
    return pending


def init_schema(*, log: PipelineLogger | None = None) -> list[str]:
    """Apply the schema scripts that are new or changed; returns them ([] when current).

    Safe to call at every start, from any number of processes at once; retried on
    transient errors like every statement of the bundle.
    """
    log = log or PipelineLogger("etl", None, stage="schema")
    return retrying(log=log, what="schema bootstrap")(_migrate, log)


def schema_is_current() -> bool:
    """True when every script is applied from its current text (takes no lock)."""
    with db.connect(autocommit=True, application_name="etl init") as conn:
        return not _pending(conn)
