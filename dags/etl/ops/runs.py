"""The run ledger: one row per pipeline run in ops.pipeline_runs."""

from __future__ import annotations

import json

import psycopg

from etl import db
from etl.ops.logs import redact


def record_run(
    conn: psycopg.Connection,
    pipeline: str,
    run_id: str,
    *,
    status: str,
    records_in: int | None = None,
    records_out: int | None = None,
    records_rejected: int | None = None,
    error: str | None = None,
    metadata: dict | None = None,
) -> None:
    """Create or update the run's row; counts left as None keep their stored value.

    A status other than ``running`` closes the run (ended_at, duration_ms).
    """
    db.run_sql(
        conn,
        "ops/upsert_pipeline_run",
        {
            "pipeline_name": pipeline,
            "run_id": run_id,
            "status": status,
            "records_in": records_in,
            "records_out": records_out,
            "records_rejected": records_rejected,
            "error": redact(error)[:4000] if error else None,
            "metadata": json.dumps(metadata or {}, default=str),
        },
    )
