"""Catch-up through a real scheduler: per-run wall time of retail_daily vs a one-task DAG.

    python bench/bench_catchup.py [--days 6] [--timeout 900]

One private Airflow (reliable_etl_dev.airflow_local.LocalAirflow: api-server, scheduler, dag-processor,
triggerer; LocalExecutor; metadata in a fresh PostgreSQL database beside the warehouse)
with a temporary dags folder holding a copy of dags/retail_daily.py and a one-task DAG
with the same timetable settings
(CronDataIntervalTimetable 02:00 UTC, catchup, max_active_runs=1, depends_on_past).
The baseline DAG catches up first, then retail_daily, over the same ``--days`` days of the
shipped sample (from 2011-01-24), so the two never compete for the 2 cores.

Reported per DAG: the span from the first run's start to the last run's end divided by the
number of runs (what a catch-up costs per day), and the median run duration. The ratio
retail_daily / one-task is informational: no target is set yet.
Results go to bench/results/catchup-*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import PROJECT_ROOT, airflow_metadata_database, fresh_database, machine_info, print_table, write_results

from reliable_etl_dev import SAMPLE_CSV as SAMPLE

RETAIL_DAILY = PROJECT_ROOT / "dags" / "retail_daily.py"
FIRST_DAY = dt.date(2011, 1, 24)
BASELINE_ID = "one_task_daily"

BASELINE_DAG = '''\
"""One task, retail_daily's timetable settings (written by bench_catchup.py)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, dag, task


@dag(
    dag_id={dag_id!r},
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=dt.datetime({first.year}, {first.month}, {first.day}, 2, tzinfo=dt.UTC),
    end_date=dt.datetime({last.year}, {last.month}, {last.day}, 2, tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=1,
    default_args={{
        "depends_on_past": True,
        "retries": 3,
        "retry_delay": dt.timedelta(seconds=30),
    }},
)
def one_task_daily() -> None:
    @task
    def work() -> None:
        pass

    work()


one_task_daily()
'''


def catch_up(af, dag_id: str, runs_expected: int, timeout: float) -> list:
    """Unpause `dag_id` and wait until `runs_expected` runs succeeded; return the runs."""
    af.unpause(dag_id)
    started = time.monotonic()

    def done() -> bool:
        runs = af.runs(dag_id)
        failed = [r for r in runs if r.state == "failed"]
        if failed:
            raise RuntimeError(f"{dag_id}: run {failed[0].run_id} failed; task logs under {af.log_dir}")
        return len(runs) >= runs_expected and all(r.state == "success" for r in runs)

    af.wait_until(done, timeout, poll=1.0, what=f"{dag_id} caught up {runs_expected} days")
    af.api.set_paused(dag_id, True)
    print(f"  {dag_id}: {runs_expected} runs succeeded, {time.monotonic() - started:.0f} s after unpausing", flush=True)
    return sorted(af.runs(dag_id), key=lambda r: r.logical_date)


def per_run(runs: list) -> dict:
    durations = [(r.end_date - r.start_date).total_seconds() for r in runs]
    span = (max(r.end_date for r in runs) - min(r.start_date for r in runs)).total_seconds()
    return {
        "runs": len(runs),
        "span_s": round(span, 2),
        "per_run_s": round(span / len(runs), 3),
        "run_median_s": round(statistics.median(durations), 3),
        "run_durations_s": [round(d, 3) for d in durations],
    }


def warehouse_check(libpq_uri: str) -> dict:
    """The runs did the work: the days are in silver and in the ledger."""
    import psycopg

    with psycopg.connect(libpq_uri) as conn:
        days, rows = conn.execute("select count(distinct sales_date), count(*) from silver.fact_sales_daily").fetchone()
        ok_runs = conn.execute(
            "select count(*) from ops.pipeline_runs where pipeline_name = 'retail' and status = 'success'"
        ).fetchone()[0]
    print(f"  warehouse: {rows} silver rows over {days} days with sales; {ok_runs} successful runs in the ledger")
    return {"silver_days": days, "silver_rows": rows, "ledger_success_runs": ok_runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=6, help="days to catch up (from 2011-01-24)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each catch-up")
    args = parser.parse_args(argv)
    last = FIRST_DAY + dt.timedelta(days=args.days - 1)

    with (
        tempfile.TemporaryDirectory(prefix="etl_bench_catchup_") as tmp_name,
        fresh_database() as db,
        airflow_metadata_database(db) as metadata_db,
    ):
        tmp = Path(tmp_name)
        from reliable_etl.ops.logs import flush_logs
        from reliable_etl.retail.landing import split_export
        from reliable_etl_dev.airflow_local import LocalAirflow

        landing = tmp / "landing"
        split_export(SAMPLE, landing)
        dags = tmp / "dags"
        dags.mkdir()
        shutil.copy2(RETAIL_DAILY, dags / RETAIL_DAILY.name)
        (dags / f"{BASELINE_ID}.py").write_text(BASELINE_DAG.format(dag_id=BASELINE_ID, first=FIRST_DAY, last=last))
        env = {
            "AIRFLOW_CONN_WAREHOUSE": db.airflow_uri,
            "ETL_HOME": str(tmp / "etl-home"),
            "ETL_RETAIL_LANDING_DIR": str(landing),
            "ETL_RETAIL_START_DATE": FIRST_DAY.isoformat(),
            "ETL_RETAIL_END_DATE": last.isoformat(),
        }
        print(f"database {db.name} on {db.server}; {args.days} days {FIRST_DAY} .. {last}; starting Airflow")
        clock = time.monotonic()
        with LocalAirflow(tmp / "airflow", dags, env=env, metadata_db=metadata_db) as af:
            startup = time.monotonic() - clock
            print(f"  Airflow healthy after {startup:.0f} s (db migrate included)", flush=True)
            af.wait_parsed(BASELINE_ID, timeout=120)
            af.wait_parsed("retail_daily", timeout=120)
            baseline = per_run(catch_up(af, BASELINE_ID, args.days, args.timeout))
            retail = per_run(catch_up(af, "retail_daily", args.days, args.timeout))
        flush_logs()
        loaded = warehouse_check(db.libpq_uri)
        info = machine_info(db)

    ratio = retail["per_run_s"] / baseline["per_run_s"]
    print()
    print_table(
        ["DAG", "runs", "per run (span / runs)", "ratio", "median run", "span"],
        [
            [
                "retail_daily (3 tasks)",
                retail["runs"],
                f"{retail['per_run_s']:.2f} s",
                f"{ratio:.2f}x",
                f"{retail['run_median_s']:.2f} s",
                f"{retail['span_s']:.1f} s",
            ],
            [
                "one-task DAG (baseline)",
                baseline["runs"],
                f"{baseline['per_run_s']:.2f} s",
                "1.00x",
                f"{baseline['run_median_s']:.2f} s",
                f"{baseline['span_s']:.1f} s",
            ],
        ],
    )
    payload = {
        "days": args.days,
        "first_day": FIRST_DAY.isoformat(),
        "last_day": last.isoformat(),
        "airflow_startup_s": round(startup, 1),
        "airflow_metadata": "PostgreSQL (same server as the warehouse)",
        "retail_daily": retail,
        "baseline": baseline,
        "ratio_per_run": round(ratio, 3),
        "warehouse": loaded,
        "machine": info,
    }
    print(f"results: {write_results('catchup', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
