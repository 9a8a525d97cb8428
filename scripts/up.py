"""`make up`: the Airflow UI on http://127.0.0.1:8080 with this bundle loaded (Ctrl-C stops it).

Airflow keeps its state in $ETL_HOME/airflow between runs; the warehouse is the `warehouse`
Connection or the embedded PostgreSQL. Landing files go to $ETL_RETAIL_LANDING_DIR.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "dags"))


def main() -> int:
    from etl import db
    from etl.airflow_local import LocalAirflow
    from etl.config import settings
    from etl.ops import init_schema

    cfg = settings()
    db.ensure_warehouse()
    init_schema()
    port = int(os.environ.get("ETL_UI_PORT", "8080"))
    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        "ETL_HOME": str(cfg.home),
        "ETL_RETAIL_LANDING_DIR": str(cfg.retail_landing_dir),
    }
    print(f"==> starting Airflow in {cfg.home / 'airflow'} (landing: {cfg.retail_landing_dir})", flush=True)
    with LocalAirflow(cfg.home / "airflow", ROOT / "dags", env=env, port=port) as airflow:
        print(f"==> Airflow UI at {airflow.base_url} (no login); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            print("\n==> stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
