"""`make up`: the Airflow UI on http://127.0.0.1:8080 with this bundle loaded (Ctrl-C stops it).

The local stack of reliable_etl_dev.local_stack: Airflow's home in $ETL_HOME/airflow (its airflow.cfg says
where everything is, so `etl-dev airflow ...` or `AIRFLOW_HOME=.etl/airflow airflow ...` in another
terminal talks to this instance), metadata in the embedded PostgreSQL, the shipped sample split
into the landing directory, and retail_daily unpaused over the sample's days: the catch-up
runs, in order, and ends green. State is kept between runs (and after `make demo`, its runs
show here).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from reliable_etl.ops import init_schema
    from reliable_etl_dev import local_stack

    port = int(os.environ.get("ETL_UI_PORT", local_stack.UI_PORT))
    airflow = local_stack.local_airflow(port)  # starts the embedded warehouse if it is the default
    os.environ.update({k: v for k, v in airflow.extra_env.items() if k.startswith("AIRFLOW_CONN_")})
    init_schema()
    if note := local_stack.prepare_sample():
        print(f"==> landing: {note}", flush=True)
    env = airflow.extra_env
    print(
        f"==> starting Airflow in {airflow.home} (retail days {env['ETL_RETAIL_START_DATE']} .. "
        f"{env['ETL_RETAIL_END_DATE']}, landing {env['ETL_RETAIL_LANDING_DIR']})",
        flush=True,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as cleanly as Ctrl-C
    with airflow:
        airflow.wait_parsed("retail_daily", timeout=120)
        airflow.unpause("retail_daily")
        print(f"==> Airflow UI at {airflow.base_url} (no login); retail_daily unpaused, catching up", flush=True)
        print(
            f"    in another terminal: `.venv/bin/etl-dev airflow dags list` or `AIRFLOW_HOME={airflow.home} "
            ".venv/bin/airflow ...`; Ctrl-C here stops it",
            flush=True,
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
            print("\n==> stopping", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
