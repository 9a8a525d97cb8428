"""The settings the plugin reads: the bundle's own environment variables (``.env.example``), read here
without importing the bundle, which the api-server and the triggerer do not have."""

from __future__ import annotations

import datetime as dt
import os


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def warehouse_conn_id() -> str:
    """The warehouse's Airflow Connection (``ETL_WAREHOUSE_CONN_ID``, default ``warehouse``)."""
    return _env("ETL_WAREHOUSE_CONN_ID", "warehouse")


def statement_timeout_ms() -> int:
    return int(_env("ETL_STATEMENT_TIMEOUT_MS", "600000"))


def recover_keep_version() -> bool:
    """``ETL_RECOVER_KEEP_VERSION``: recoveries keep each run's own bundle version (default: the latest)."""
    return _env("ETL_RECOVER_KEEP_VERSION", "0").lower() in {"1", "true", "yes"}


def retail_days() -> tuple[dt.date, dt.date | None]:
    """The first and (if set) last day of retail_daily's catch-up (``ETL_RETAIL_START_DATE``/``_END_DATE``)."""
    start, end = _env("ETL_RETAIL_START_DATE", "2011-01-24"), _env("ETL_RETAIL_END_DATE")
    return dt.date.fromisoformat(start), dt.date.fromisoformat(end) if end else None
