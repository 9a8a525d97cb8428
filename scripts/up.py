"""`make up`: the Airflow UI on http://127.0.0.1:8080 with this bundle loaded (Ctrl-C stops it).

Airflow keeps its state between runs: logs in $ETL_HOME/airflow, metadata in the embedded
PostgreSQL (database `airflow`) when the warehouse is the embedded default, else in SQLite.
Landing files go to $ETL_RETAIL_LANDING_DIR.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dags"))


def main() -> int:
    from etl import db, scratch
    from etl.airflow_local import LocalAirflow
    from etl.config import settings
    from etl.ops import init_schema

    cfg = settings()
    metadata_db = None
    if not os.environ.get("AIRFLOW_CONN_WAREHOUSE"):  # embedded: it keeps Airflow's metadata too
        admin_uri = scratch.libpq_uri(db.start_embedded(), "postgres")
        os.environ["AIRFLOW_CONN_WAREHOUSE"] = scratch.airflow_conn_uri(admin_uri, "postgres")
        metadata_db = scratch.sqlalchemy_uri(admin_uri, scratch.ensure_database(admin_uri, "airflow"))
    init_schema()
    port = int(os.environ.get("ETL_UI_PORT", "8080"))
    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        "ETL_HOME": str(cfg.home),
        "ETL_RETAIL_LANDING_DIR": str(cfg.retail_landing_dir),
    }
    print(f"==> starting Airflow in {cfg.home / 'airflow'} (landing: {cfg.retail_landing_dir})", flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    with LocalAirflow(cfg.home / "airflow", ROOT / "dags", env=env, port=port, metadata_db=metadata_db) as airflow:
        print(f"==> Airflow UI at {airflow.base_url} (no login); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
            print("\n==> stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
