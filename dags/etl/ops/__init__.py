"""The ops ledger: schema, structured logs, checkpoints, runs, rejected rows."""

from __future__ import annotations

from etl import db

SCHEMA_SCRIPTS = (
    "ops/create_ops_schema",
    "retail/create_retail_schema",
    "sync/create_sync_schema",
    "sync/create_sync_functions",
    "sync/create_sync_views",
    "files/create_files_schema",
)


def init_schema() -> list[str]:
    """Create every schema and table of the bundle if missing (idempotent, concurrent-safe)."""
    with db.transaction(lock="etl:init_schema", application_name="etl init") as conn:
        for script in SCHEMA_SCRIPTS:
            db.run_script(conn, script)
    return list(SCHEMA_SCRIPTS)
