"""The ops ledger: schema, structured logs, checkpoints, runs, rejected rows.

``init_schema`` and ``SCHEMA_SCRIPTS`` are loaded on first use (PEP 562): DAG files import
``reliable_etl.ops.logs`` when they are parsed, and must not pay for the database modules.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_SCRIPTS", "init_schema"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from reliable_etl.ops import schema

        return getattr(schema, name)
    raise AttributeError(f"module 'reliable_etl.ops' has no attribute {name!r}")
