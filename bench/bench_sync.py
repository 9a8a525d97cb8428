"""Jira and GitHub sync throughput against the latency-bound floor, and checkpoint overhead.

The fake server (``etl-dev fake-server``) runs in a process of its own with a fixed latency
per request, so its work does not share this process's interpreter. A full pass of every
entity runs through ``reliable_etl.sync.runner.sync_queue`` (the code path of ``etl sync``) with
``--concurrency`` entities at once:

    floor     = requests x latency / concurrency   (what the latency alone costs)
    ratio     = floor / wall time                  (target: >= 80%)
    overhead  = time spent writing checkpoints / time spent syncing, summed over entities
                (target: < 5%)

Every request counts (walk pages, id-sweep pages, the reconciliation count), because the
pass makes them all. Usage:

    .venv/bin/python bench/bench_sync.py                     # 20 x 2,000 PRs, 5 x 5,000 issues, 50 ms
    .venv/bin/python bench/bench_sync.py --repos 4 --prs 500 --projects 2 --issues 1000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PROJECT_ROOT, fresh_database, machine_info, print_table, verdict, write_results

TARGET_RATIO = 0.80
TARGET_OVERHEAD = 0.05


@contextmanager
def fake_server(port: int, latency_ms: float, repos: dict, projects: dict):
    """``etl-dev fake-server`` in a subprocess; waits until it answers."""
    import requests

    proc = subprocess.Popen(
        [
            sys.executable, "-m", "reliable_etl_dev.cli", "fake-server", "--port", str(port),
            "--latency-ms", str(latency_ms),
            "--repos", ",".join(f"{k}:{v}" for k, v in repos.items()),
            "--projects", ",".join(f"{k}:{v}" for k, v in projects.items()),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{url}/rest/api/3/serverInfo", timeout=1, auth=("me", "t"))
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the fake server did not start: {proc.stdout.read()}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class CheckpointClock:
    """Time spent in EntityRun._write (the checkpoint UPDATE), per thread, summed."""

    def __init__(self) -> None:
        from reliable_etl.sync.jobs import EntityRun

        self.total = 0.0
        self.lock = threading.Lock()
        self.original = EntityRun._write

        def timed(run, new):
            started = time.perf_counter()
            try:
                return self.original(run, new)
            finally:
                with self.lock:
                    self.total += time.perf_counter() - started

        EntityRun._write = timed

    def restore(self) -> None:
        from reliable_etl.sync.jobs import EntityRun

        EntityRun._write = self.original


def run_service(service: str, entities: list[str], concurrency: int, latency: float) -> dict:
    from reliable_etl import db
    from reliable_etl.sync.github import GitHubSync
    from reliable_etl.sync.jira import JiraSync
    from reliable_etl.sync.runner import sync_entity, sync_queue

    sync_class = GitHubSync if service == "github" else JiraSync
    with db.connect(autocommit=True) as conn:
        conn.execute("truncate sync.github_pull_requests, sync.jira_issues, ops.sync_jobs, ops.sync_transitions")
        conn.execute("checkpoint")
    entity_time = {"total": 0.0}
    lock = threading.Lock()

    def make():
        return sync_class(run_id=f"bench-{service}")

    clock = CheckpointClock()
    timed_entity = sync_entity

    def per_entity(sync, entity, **kwargs):
        started = time.perf_counter()
        try:
            return timed_entity(sync, entity, **kwargs)
        finally:
            with lock:
                entity_time["total"] += time.perf_counter() - started

    import reliable_etl.sync.runner as runner

    runner.sync_entity = per_entity
    try:
        started = time.perf_counter()
        results = sync_queue(make, entities, run_id=f"bench-{service}", concurrency=concurrency)
        wall = time.perf_counter() - started
    finally:
        runner.sync_entity = timed_entity
        clock.restore()
    items = sum(r.items for r in results)
    requests = sum(r.api_cost for r in results)
    walk_pages = sum(r.pages for r in results)
    floor = requests * latency / min(concurrency, len(entities))
    assert all(r.outcome == "finished" and r.api_count == r.db_count for r in results), results
    return {
        "service": service,
        "entities": len(entities),
        "items": items,
        "requests": requests,
        "walk_pages": walk_pages,
        "wall_s": round(wall, 3),
        "floor_s": round(floor, 3),
        "items_per_s": round(items / wall),
        "floor_items_per_s": round(items / floor),
        "ratio": round(floor / wall, 3),
        "checkpoint_s": round(clock.total, 3),
        "entity_s": round(entity_time["total"], 3),
        "checkpoint_overhead": round(clock.total / entity_time["total"], 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--prs", type=int, default=2000)
    parser.add_argument("--projects", type=int, default=5)
    parser.add_argument("--issues", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 5], help="one run per value")
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()

    repos = {f"bench/repo-{n:02d}": args.prs for n in range(args.repos)}
    projects = {f"P{n}": args.issues for n in range(args.projects)}
    latency = args.latency_ms / 1000
    with fresh_database() as database, fake_server(args.port, args.latency_ms, repos, projects) as url:
        os.environ["AIRFLOW_CONN_GITHUB_DEFAULT"] = json.dumps({"conn_type": "http", "host": url, "password": "t"})
        os.environ["AIRFLOW_CONN_JIRA_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": url, "login": "me", "password": "t", "extra": {"deployment": "cloud"}}
        )
        os.environ.setdefault("ETL_JIRA_SAFETY_LAG_SECONDS", "0")
        os.environ.setdefault("ETL_LOG_TO_DB", "0")  # the log table is not what is measured
        import logging

        logging.getLogger("reliable_etl").setLevel(logging.WARNING)
        from reliable_etl.ops import init_schema

        init_schema()
        print(f"fake server at {url}, {args.latency_ms:g} ms per request", flush=True)
        results = []
        for concurrency in args.concurrency:
            for service, entities in (("github", list(repos)), ("jira", list(projects))):
                if entities:
                    results.append({"concurrency": concurrency, **run_service(service, entities, concurrency, latency)})
                    print(f"  {service} at concurrency {concurrency}: {results[-1]['wall_s']} s", flush=True)
        print_table(
            ["service", "conc", "items", "requests", "wall s", "floor s", "items/s", "floor items/s", "ratio",
             "ckpt overhead"],
            [
                [
                    r["service"], r["concurrency"], r["items"], r["requests"], r["wall_s"], r["floor_s"],
                    r["items_per_s"], r["floor_items_per_s"],
                    f"{r['ratio']:.0%} ({verdict(r['ratio'] >= TARGET_RATIO)})",
                    f"{r['checkpoint_overhead']:.1%} ({verdict(r['checkpoint_overhead'] < TARGET_OVERHEAD)})",
                ]
                for r in results
            ],
        )  # fmt: skip
        path = write_results(
            "sync",
            {"machine": machine_info(database), "args": vars(args), "results": results},
        )
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
