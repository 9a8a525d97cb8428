"""`make demo`: the retail pipeline catching up day by day through a real Airflow scheduler.

Starts the local stack (reliable_etl_dev.local_stack) from nothing: the embedded warehouse (unless
AIRFLOW_CONN_WAREHOUSE is set, which is never reset), the shipped sample (or --source FILE)
split into daily landing files, Airflow on the stack's home; unpauses `retail_daily` and lets
it catch up over a window that crosses a month end, printing each day as it finishes. Then
prints a summary and stops what it started; `make up` afterwards shows the demo's runs.

    python scripts/demo.py [--source FILE] [--from 2011-01-24] [--to 2011-02-06]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from reliable_etl_dev import SAMPLE_CSV


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=str(SAMPLE_CSV))
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=dt.date(2011, 1, 24))
    parser.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=dt.date(2011, 2, 6))
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the catch-up")
    args = parser.parse_args()

    from reliable_etl import db
    from reliable_etl.retail.landing import split_export
    from reliable_etl_dev import local_stack

    os.environ.update(ETL_RETAIL_START_DATE=args.first.isoformat(), ETL_RETAIL_END_DATE=args.last.isoformat())
    step("starting the local stack from nothing (Airflow home and metadata, landing files, warehouse schemas)")
    local_stack.reset()
    airflow = local_stack.local_airflow(port=None)  # a free port: the demo never collides with `make up`
    os.environ.update({k: v for k, v in airflow.extra_env.items() if k.startswith("AIRFLOW_CONN_")})

    from reliable_etl.ops import init_schema
    from reliable_etl.retail.report import format_summary, summary

    init_schema()
    landing = Path(airflow.extra_env["ETL_RETAIL_LANDING_DIR"])
    step(f"splitting {args.source} into daily landing files")
    result = split_export(Path(args.source), landing)
    print(f"    {result.rows:,} rows -> {result.files} files ({result.first_day} .. {result.last_day}) in {landing}")

    days = (args.last - args.first).days + 1
    step(f"starting Airflow (api-server, scheduler, dag-processor, triggerer) in {airflow.home}")
    clock = time.monotonic()
    try:
        with airflow:
            print(f"    UI at {airflow.base_url} while the demo runs; logs in {airflow.log_dir}")
            airflow.wait_parsed("retail_daily", timeout=120)
            airflow.unpause("retail_daily")
            step(f"retail_daily catching up {days} days, {args.first} .. {args.last}, one at a time")
            ok = follow(airflow, days, args.timeout)
        elapsed = time.monotonic() - clock
        step(f"summary ({'all days succeeded' if ok else 'STOPPED AT A FAILED DAY'}, {elapsed:.0f} s with Airflow)")
        print(format_summary(summary()))
        print("    `make up` shows these runs in the Airflow UI (http://127.0.0.1:8080)")
    finally:
        if local_stack.embedded():
            db.stop_embedded()
            step("stopped the embedded warehouse and Airflow")
    return 0 if ok else 1


def follow(airflow, days: int, timeout: float) -> bool:
    """Print each run as it finishes; True when all `days` succeeded, False at a failure."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = airflow.runs("retail_daily")
        for run in runs:
            if run.state in {"success", "failed"} and run.run_id not in seen:
                seen.add(run.run_id)
                took = (run.end_date - run.start_date).total_seconds() if run.start_date and run.end_date else 0
                tasks = airflow.task_states("retail_daily", run.run_id)
                gold = "gold published" if tasks.get("publish_gold") == "success" else "month open"
                print(f"    [{len(seen):>2}/{days}] {run.logical_date:%Y-%m-%d} {run.state:<7} {took:5.1f} s  {gold}")
                if run.state == "failed":
                    print(
                        f"    see the task log under {airflow.log_dir}; fix the cause, then `etl recover retail_daily`"
                    )
                    return False
        if len(seen) >= days and all(r.state == "success" for r in runs):
            return True
        time.sleep(1)
    raise TimeoutError(f"retail_daily did not finish {days} days within {timeout:.0f} s")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
