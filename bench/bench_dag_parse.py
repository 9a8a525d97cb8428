"""DAG file parse time: dags/retail_daily.py vs a one-task DAG file, as a ratio.

    python bench/bench_dag_parse.py [--repeat 5]

Each parse runs in a fresh subprocess (no module cache shared between parses): the child
imports Airflow's DagBag, then times ``DagBag(file)`` alone. One untimed warm-up parse per
file first (byte-code caches, OS file cache). Reported: the median of ``--repeat`` parses.
Target: retail_daily / one-task <= 1.5. Results go to bench/results/dag_parse-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import PROJECT_ROOT, machine_info, print_table, verdict, write_results

TARGET_RATIO = 1.5
RETAIL_DAILY = PROJECT_ROOT / "dags" / "retail_daily.py"

# The baseline: the smallest DAG with the same timetable settings, idiomatic Airflow 3 imports.
ONE_TASK_DAG = '''\
"""One task, the same timetable settings as retail_daily (written by bench_dag_parse.py)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, dag, task


@dag(
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=dt.datetime(2011, 1, 24, 2, tzinfo=dt.UTC),
    catchup=True,
    max_active_runs=1,
    default_args={"depends_on_past": True, "retries": 3},
)
def one_task() -> None:
    @task
    def work() -> None:
        pass

    work()


one_task()
'''

# Runs in the child: import DagBag (not timed as parse), then parse the one file.
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({
    "import_dagbag_s": t1 - t0,
    "parse_s": t2 - t1,
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {str(k): str(v)[-2000:] for k, v in bag.import_errors.items()},
}))
"""


def child_env(home: Path, dags_folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "AIRFLOW_HOME"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as the dag-processor runs: with .pyc files
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags_folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    return env


def parse_once(dag_file: Path, home: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(dag_file)],
        env=child_env(home, dag_file.parent),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"parsing {dag_file} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["import_errors"]:
        raise RuntimeError(f"{dag_file}: import errors: {result['import_errors']}")
    result["process_s"] = wall
    return result


def bench(files: dict[str, Path], repeat: int, home: Path) -> dict[str, list[dict]]:
    """Warm up each file once, then parse them in turn, ``repeat`` times (interleaved)."""
    for name, path in files.items():
        parse_once(path, home)
        print(f"  warm-up {name}: done", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in files}
    for i in range(repeat):
        for name, path in files.items():
            runs[name].append(parse_once(path, home))
            print(f"  {name}: run {i + 1}/{repeat}: DagBag {runs[name][-1]['parse_s'] * 1000:.0f} ms", flush=True)
    return runs


def summarize(runs: list[dict]) -> dict:
    return {
        "dag_ids": runs[0]["dag_ids"],
        "parse_s": [round(r["parse_s"], 4) for r in runs],
        "parse_median_s": round(statistics.median(r["parse_s"] for r in runs), 4),
        "import_dagbag_median_s": round(statistics.median(r["import_dagbag_s"] for r in runs), 4),
        "process_median_s": round(statistics.median(r["process_s"] for r in runs), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="parses per file (the median is reported)")
    parser.add_argument("--dag-file", type=Path, default=RETAIL_DAILY, help="the DAG file to measure")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="etl_bench_parse_") as tmp_name:
        tmp = Path(tmp_name)
        baseline_dir = tmp / "dags"
        baseline_dir.mkdir()
        one_task = baseline_dir / "one_task.py"
        one_task.write_text(ONE_TASK_DAG)
        files = {args.dag_file.name: args.dag_file.resolve(), "one_task.py (baseline)": one_task}
        print(f"DagBag(file) in a fresh subprocess, {args.repeat} parses each after one warm-up")
        runs = bench(files, args.repeat, tmp / "airflow-home")

    measured, baseline = (summarize(runs[name]) for name in files)
    ratio = measured["parse_median_s"] / baseline["parse_median_s"]
    print()
    print_table(
        ["DAG file", "DagBag median", "ratio", "target", "verdict", "process median"],
        [
            [
                f"{args.dag_file.name} {measured['dag_ids']}",
                f"{measured['parse_median_s'] * 1000:.0f} ms",
                f"{ratio:.2f}x",
                f"<= {TARGET_RATIO}x",
                verdict(ratio <= TARGET_RATIO),
                f"{measured['process_median_s']:.2f} s",
            ],
            [
                "one-task DAG (baseline)",
                f"{baseline['parse_median_s'] * 1000:.0f} ms",
                "1.00x",
                "",
                "",
                f"{baseline['process_median_s']:.2f} s",
            ],
        ],
    )
    print("process median: the whole child (interpreter start, Airflow import, parse); not part of the ratio")
    payload = {
        "dag_file": str(args.dag_file),
        "repeat": args.repeat,
        "measured": measured,
        "baseline": baseline,
        "ratio": round(ratio, 3),
        "target_ratio_max": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
        "machine": machine_info(),
    }
    print(f"results: {write_results('dag_parse', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
