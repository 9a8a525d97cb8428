"""The ops ledger: schema, structured logs, checkpoints, runs, rejected rows."""

from __future__ import annotations

from etl.ops.schema import SCHEMA_SCRIPTS, init_schema

__all__ = ["SCHEMA_SCRIPTS", "init_schema"]
