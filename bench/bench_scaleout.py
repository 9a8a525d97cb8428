"""engineering_sync on two Celery workers against one, in the same run (target: >= 1.7x).

The syncs are latency-bound (bench/bench_sync.py: wall time ~ requests x latency /
concurrency), so a second worker should nearly halve a pass: more entities are synced at once,
up to the pools (github_api 4 + jira_api 2 = 6). A real Airflow with the CeleryExecutor
(reliable_etl_dev.airflow_local, Redis broker, PostgreSQL metadata) runs engineering_sync against the fake
server (``etl-dev fake-server``, in a process of its own, a fixed latency per request) on:

    one worker  ``airflow celery worker -H w1 -c C``
    two workers ``-H w1`` and ``-H w2``, ``-c C`` each (2C slots: C=3 fills both pools)

Each pass starts from empty sync tables (a first, full pass of every entity) and is one
triggered run; its time is the span of its sync tasks (first start to last end, from the task
instances), so the run's fixed tasks (schema, lists) do not dilute the ratio. The passes run
one worker, two, two, one (the order evens out warm-up); each configuration keeps its best.

    .venv/bin/python bench/bench_scaleout.py          # 8 x 2,000 PRs, 4 x 2,000 issues, pages of 50, 250 ms
    .venv/bin/python bench/bench_scaleout.py --repos 4 --prs 500 --projects 2 --issues 500 --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    PROJECT_ROOT,
    airflow_metadata_database,
    fresh_database,
    machine_info,
    print_table,
    verdict,
    write_results,
)
from bench_sync import fake_server

TARGET = 1.7
DAG = "engineering_sync"


def sync_pass(af, conn, repos: list[str], projects: list[str]) -> dict:
    """One triggered run from empty sync tables; its sync tasks' span and what they did."""
    conn.execute("truncate sync.github_pull_requests, sync.jira_issues, ops.sync_jobs, ops.sync_transitions")
    run_id = af.api.trigger(DAG, {"repos": repos, "projects": projects})["dag_run_id"]
    started = time.monotonic()

    def finished() -> str | None:
        state = next(r.state for r in af.runs(DAG) if r.run_id == run_id)
        if state == "failed":
            raise RuntimeError(f"{run_id} failed: {af.task_states(DAG, run_id)}")
        return state if state == "success" else None

    af.wait_until(finished, timeout=1800, poll=1, what=f"{run_id} succeeded")
    wall = time.monotonic() - started
    tis = [t for t in af.api.task_instances(DAG, run_id) if t["task_id"] in {"sync_github", "sync_jira"}]
    first = min(dt.datetime.fromisoformat(t["start_date"]) for t in tis)
    last = max(dt.datetime.fromisoformat(t["end_date"]) for t in tis)
    requests, items = conn.execute("select sum(api_cost), sum(items) from ops.sync_jobs").fetchone()
    return {
        "run_id": run_id,
        "span_s": round((last - first).total_seconds(), 2),
        "run_wall_s": round(wall, 2),
        "tasks": len(tis),
        "hosts": sorted({t["hostname"] for t in tis}),
        "requests": int(requests),
        "items": int(items),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=8)
    parser.add_argument("--prs", type=int, default=1500)
    parser.add_argument("--projects", type=int, default=4)
    parser.add_argument("--issues", type=int, default=1500)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=400)
    parser.add_argument("--concurrency", type=int, default=3, help="task slots per worker")
    parser.add_argument("--repeat", type=int, default=2, help="passes per configuration (order 1, 2, 2, 1, ...)")
    parser.add_argument("--port", type=int, default=18766)
    args = parser.parse_args()

    from reliable_etl_dev.airflow_local import CELERY_EXECUTOR, LocalAirflow, celery_broker

    repos = {f"bench/repo-{n:02d}": args.prs for n in range(args.repos)}
    projects = {f"P{n}": args.issues for n in range(args.projects)}
    workdir = Path(tempfile.mkdtemp(prefix="etl-bench-scaleout-"))
    with (
        fresh_database() as database,
        airflow_metadata_database(database) as metadata_db,
        celery_broker(workdir) as broker_url,
        fake_server(args.port, args.latency_ms, repos, projects) as url,
    ):
        env = {
            "AIRFLOW_CONN_WAREHOUSE": database.airflow_uri,
            "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps({"conn_type": "http", "host": url, "password": "t"}),
            "AIRFLOW_CONN_JIRA_DEFAULT": json.dumps(
                {"conn_type": "http", "host": url, "login": "me", "password": "t", "extra": {"deployment": "cloud"}}
            ),
            "ETL_GITHUB_REPOS": "",  # the scheduled run at unpause syncs nothing; passes are triggered
            "ETL_JIRA_PROJECTS": "",
            "ETL_JIRA_SAFETY_LAG_SECONDS": "0",
            "ETL_SYNC_HTTP_TIMEOUT": "30",
            "ETL_SYNC_PAGE_SIZE": str(args.page_size),
            "ETL_LOG_TO_DB": "0",  # the log table is not what is measured
            "ETL_HOME": str(workdir / "etl-home"),
        }
        af = LocalAirflow(workdir / "airflow", PROJECT_ROOT / "dags", env=env, metadata_db=metadata_db,
                          executor=CELERY_EXECUTOR, broker_url=broker_url)  # fmt: skip
        import psycopg

        print(f"fake server at {url}, {args.latency_ms:g} ms per request; broker {broker_url}", flush=True)
        results: dict[int, list[dict]] = {1: [], 2: []}
        with af, psycopg.connect(database.libpq_uri, autocommit=True) as conn:
            af.start_worker("w1", concurrency=args.concurrency)
            af.wait_parsed(DAG, timeout=180)
            af.unpause(DAG)
            af.wait_until(lambda: [r for r in af.runs(DAG) if r.state == "success"], 300, what="the scheduled run")
            for workers in ([1, 2, 2, 1] * args.repeat)[: 2 * args.repeat]:
                if workers == 2 and "w2" not in af.workers():
                    af.start_worker("w2", concurrency=args.concurrency)
                elif workers == 1 and "w2" in af.workers():
                    af.stop_worker("w2")
                result = sync_pass(af, conn, list(repos), list(projects))
                results[workers].append(result)
                print(f"  {workers} worker(s): sync tasks span {result['span_s']} s on {result['hosts']}", flush=True)
        best = {w: min(results[w], key=lambda r: r["span_s"]) for w in results}
        ratio = best[1]["span_s"] / best[2]["span_s"]
        latency = args.latency_ms / 1000
        rows = []
        for workers, r in best.items():
            slots = min(workers * args.concurrency, 6)  # the two pools hold 6
            rows.append([
                f"{workers} worker(s)", workers * args.concurrency, r["tasks"], r["items"], r["requests"],
                r["span_s"], round(r["requests"] * latency / slots, 1), round(r["items"] / r["span_s"]),
                ", ".join(str(x["span_s"]) for x in results[workers]),
            ])  # fmt: skip
        headers = ["configuration", "slots", "tasks", "items", "requests", "span s", "floor s", "items/s", "passes s"]
        print_table(headers, rows)
        print(f"two workers / one: {ratio:.2f}x (target >= {TARGET}x: {verdict(ratio >= TARGET)})")
        path = write_results(
            "scaleout",
            {"machine": machine_info(database), "args": vars(args), "results": results, "ratio": round(ratio, 3)},
        )
        print(f"results: {path}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
