"""The local Airflow of `make up`, `make demo` and `etl-dev airflow`: one home, one metadata database.

    $ETL_HOME/airflow         AIRFLOW_HOME; its airflow.cfg is written at every start, so
                              `AIRFLOW_HOME=.etl/airflow airflow ...` (or `etl-dev airflow ...`) in
                              another terminal talks to the instance `make up` runs
    $ETL_HOME/pgdata          the embedded PostgreSQL: database `postgres` is the warehouse (the
                              CLI's default), database `airflow` holds Airflow's metadata
    $ETL_HOME/landing/retail  the shipped sample, split into daily landing files

`make up` keeps this state between runs; `make demo` starts it from nothing, so after a demo
`make up` shows the demo's runs. With ``AIRFLOW_CONN_WAREHOUSE`` set (an external warehouse)
the metadata lives in SQLite in the home and nothing of the warehouse is ever reset.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from reliable_etl.config import settings
from reliable_etl_dev import ROOT, SAMPLE_CSV, scratch, warehouse
from reliable_etl_dev.airflow_local import LocalAirflow

SAMPLE_DAYS = (dt.date(2011, 1, 24), dt.date(2011, 2, 6))  # the days the shipped sample covers
DAGS = ROOT / "dags"
METADATA_DB = "airflow"
UI_PORT = 8080
BUNDLE_SCHEMAS = ("ops", "bronze", "silver", "gold", "sync", "files", "files_snapshots")


def home() -> Path:
    return settings().home / "airflow"


def embedded() -> bool:
    """True when the warehouse is the embedded default (no AIRFLOW_CONN_WAREHOUSE)."""
    return not os.environ.get(f"AIRFLOW_CONN_{settings().warehouse_conn_id.upper()}")


def _admin_uri() -> str:
    return scratch.libpq_uri(warehouse.start(), "postgres")


def environment() -> tuple[dict[str, str], str | None]:
    """(the variables every Airflow process of the stack gets, the metadata SQLAlchemy URL or None).

    Starts the embedded PostgreSQL when it is the warehouse. The retail window is the
    sample's days unless ETL_RETAIL_START_DATE / ETL_RETAIL_END_DATE say otherwise, so the
    catch-up ends, green, when the sample does.
    """
    cfg = settings()
    metadata_db = None
    if embedded():
        admin = _admin_uri()
        warehouse = scratch.airflow_conn_uri(admin, "postgres")
        metadata_db = scratch.sqlalchemy_uri(admin, scratch.ensure_database(admin, METADATA_DB))
    else:
        warehouse = os.environ[f"AIRFLOW_CONN_{cfg.warehouse_conn_id.upper()}"]
    env = {
        f"AIRFLOW_CONN_{cfg.warehouse_conn_id.upper()}": warehouse,
        "ETL_HOME": str(cfg.home),
        "ETL_RETAIL_LANDING_DIR": str(cfg.retail_landing_dir),
        "ETL_RETAIL_START_DATE": os.environ.get("ETL_RETAIL_START_DATE") or SAMPLE_DAYS[0].isoformat(),
        "ETL_RETAIL_END_DATE": os.environ.get("ETL_RETAIL_END_DATE") or SAMPLE_DAYS[1].isoformat(),
    }
    return env, metadata_db


def local_airflow(port: int | None = UI_PORT) -> LocalAirflow:
    """The stack's Airflow (not started): `with local_airflow() as af: ...`."""
    env, metadata_db = environment()
    return LocalAirflow(home(), DAGS, env=env, port=port, metadata_db=metadata_db)


def prepare_sample() -> str | None:
    """Split the shipped sample into the landing directory unless it holds landing files already."""
    from reliable_etl.retail.landing import split_export

    landing = settings().retail_landing_dir
    if landing.is_dir() and any(landing.glob("retail_*.csv")):
        return None
    result = split_export(SAMPLE_CSV, landing)
    return f"{result.rows:,} sample rows -> {result.files} daily files ({result.first_day} .. {result.last_day})"


def reset() -> None:
    """Start the local stack from nothing: Airflow's home and metadata, the landing files, and,
    on the embedded warehouse only, the bundle's schemas."""
    shutil.rmtree(home(), ignore_errors=True)
    shutil.rmtree(settings().retail_landing_dir, ignore_errors=True)
    if not embedded():
        return
    admin = _admin_uri()
    scratch.create_database(admin, METADATA_DB)  # dropped and created again
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop schema if exists {} cascade").format(sql.SQL(", ").join(map(sql.Identifier, BUNDLE_SCHEMAS)))
        )
