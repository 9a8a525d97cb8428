"""The reliability dashboard's load time: its API and its page, on a warehouse holding a real year.

    python bench/bench_dashboard.py [--repeat 20] [--page-repeat 10] [--no-sync] [--no-history]

The warehouse first gets the full real retail year through the daily path (load_day for all 374
days, then gold for all 13 months: bench_maintenance.load_retail) and the sync benchmark's
data (20 repositories x 2,000 pull requests, 5 Jira projects x 5,000 issues from `etl sync
fake-server`, on a free port) synced 20 items a page, so `ops.sync_jobs` counts 3,250 pages; then a year of the
ledger the hourly syncs and the maintenance DAGs leave behind (`--no-history` skips it): one
run per entity per hour (219,000 rows in `ops.pipeline_runs`), 300,000 log records (0.5%
errors), 14 days of health checks every 30 minutes, the sync transitions of 90 days.

A real Airflow (LocalAirflow, the bundle's plugins, SimpleAuthManager with users, metadata in
PostgreSQL) serves the dashboard. Measured, warm (one untimed round first):

1. every JSON route the page calls, and the Prometheus exposition: --repeat sequential calls
   each, as a signed-in viewer (Bearer token): median and worst;
2. the page in headless Chromium (`reliable_etl_dev.browser`): from navigation start until every
   section is drawn (`window.etlDashboard.loadMs`, the page's six API calls in parallel), in a
   fresh browser profile (nothing cached) and reloaded, --page-repeat times each.

Target: the page under 1 s. Results are printed and written to bench/results/dashboard-*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import Timing, airflow_metadata_database, fresh_database, machine_info, print_table, verdict, write_results

TARGET_S = 1.0
ROUTES = ("health", "health/history", "metrics", "checkpoints", "timeline", "errors", "dags", "metrics/prometheus")
PAGE_CALLS = ("health", "health/history", "timeline", "checkpoints", "errors", "dags")
SYNC_PAGE_SIZE = "20"

TOY_DAG = '''\
"""A DAG for the dashboard's DAG list (written by bench_dashboard.py)."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task


@dag(schedule=None, start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), catchup=False)
def bench_toy():
    @task
    def noop() -> None:
        pass

    noop()


bench_toy()
'''

HISTORY_SQL = """
-- one run per sync entity per hour for a year (the ledger of engineering_sync)
insert into ops.pipeline_runs (pipeline_name, run_id, status, started_at, ended_at, duration_ms,
                               records_in, records_out, records_rejected, error, metadata)
select case when e <= 20 then 'github_sync' else 'jira_sync' end,
       format('hourly_%s_%s', e, h),
       case when (h * 7 + e) % 50 = 0 then 'failed' else 'success' end,
       now() - make_interval(hours => h), now() - make_interval(hours => h) + interval '40 s', 40000,
       100, 100 - (h % 3), h % 3,
       case when (h * 7 + e) % 50 = 0 then 'HTTP 502 from the API after 6 attempts' end,
       jsonb_build_object('entity', e)
from generate_series(1, 25) as e, generate_series(1, 8760) as h;

-- 300,000 log records, 0.5% errors, linked to their task
insert into ops.pipeline_logs (timestamp, level, message, pipeline_name, run_id, stage, dag_id, task_id,
                               map_index, try_number, metadata)
select now() - make_interval(secs => n * 100),
       case when n % 200 = 0 then 'ERROR' else 'INFO' end,
       format('page %s written: 100 items', n), 'github_sync', format('hourly_%s', n / 25), 'walk',
       'engineering_sync', 'sync_github', n % 20, 1, '{}'
from generate_series(1, 300000) as n;

-- 14 days of health checks every 30 minutes, and the daily jobs
insert into ops.maintenance_runs (job, run_id, status, started_at, finished_at, duration_ms, result)
select 'health_check', format('hc_%s', n), 'healthy', now() - make_interval(mins => n * 30),
       now() - make_interval(mins => n * 30) + interval '70 ms', 70,
       '{"postgres": true, "redis": true, "duckdb": true, "errors": []}'
from generate_series(1, 672) as n;
insert into ops.maintenance_runs (job, run_id, status, started_at, finished_at, duration_ms, result)
select j, format('%s_%s', j, n), 'success', now() - make_interval(days => n),
       now() - make_interval(days => n) + interval '1 s', 1000, '{"status": "success", "errors": []}'
from unnest(array['cleanup_old_data', 'backup_critical_data', 'optimize_database']) as j, generate_series(1, 90) as n;

-- 90 days of hourly passes: PENDING -> RUNNING -> FINISHED, and 2% of them a failure and its recovery
insert into ops.sync_transitions (service, entity, from_status, to_status, at)
select case when e <= 20 then 'github' else 'jira' end, format('bench/entity-%s', e), s.f, s.t,
       now() - make_interval(hours => h) + make_interval(secs => s.o)
from generate_series(1, 25) as e, generate_series(1, 2160) as h,
     (values ('FINISHED', 'PENDING', 0), ('PENDING', 'RUNNING', 1), ('RUNNING', 'FINISHED', 40)) as s (f, t, o);
insert into ops.sync_transitions (service, entity, from_status, to_status, at)
select case when e <= 20 then 'github' else 'jira' end, format('bench/entity-%s', e), s.f, s.t,
       now() - make_interval(hours => h) + make_interval(secs => s.o)
from generate_series(1, 25) as e, generate_series(1, 2160, 50) as h,
     (values ('RUNNING', 'FAILED', 20), ('FAILED', 'PENDING', 25)) as s (f, t, o);
"""


def load_sync() -> int:
    """bench_maintenance.load_sync's data, from a fake server on a free port (another run may hold its port)."""
    import json

    from bench_sync import fake_server

    from reliable_etl.config import settings
    from reliable_etl.sync.github import GitHubSync
    from reliable_etl.sync.jira import JiraSync
    from reliable_etl.sync.runner import sync_queue
    from reliable_etl_dev.airflow_local import free_port

    repos = {f"bench/repo-{n:02d}": 2000 for n in range(20)}
    projects = {f"P{n}": 5000 for n in range(5)}
    with fake_server(free_port(), 0, repos, projects) as url:
        os.environ["AIRFLOW_CONN_GITHUB_DEFAULT"] = json.dumps({"conn_type": "http", "host": url, "password": "t"})
        os.environ["AIRFLOW_CONN_JIRA_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": url, "login": "me", "password": "t", "extra": {"deployment": "cloud"}}
        )
        os.environ["ETL_JIRA_SAFETY_LAG_SECONDS"] = "0"
        settings.cache_clear()
        items = 0
        for sync, entities in ((GitHubSync, list(repos)), (JiraSync, list(projects))):
            results = sync_queue(lambda s=sync: s(run_id="bench_sync"), entities, run_id="bench_sync", concurrency=5)
            items += sum(r.items for r in results)
    print(f"  sync: {items:,} items")
    return items


def add_history() -> dict:
    from reliable_etl import db

    started = time.perf_counter()
    with db.connect(autocommit=True) as conn:
        conn.execute("set statement_timeout = 0")
        conn.execute(HISTORY_SQL)
        counts = {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("ops.pipeline_runs", "ops.pipeline_logs", "ops.maintenance_runs", "ops.sync_transitions")
        }
        pages = conn.execute("select coalesce(sum(pages), 0) from ops.sync_jobs").fetchone()[0]
    print(f"  history: {counts} in {time.perf_counter() - started:.0f} s")
    return {**counts, "sync_pages": pages}


def time_routes(client, headers: dict, repeat: int) -> dict[str, Timing]:
    timings = {route: Timing(f"GET /etl/{route}") for route in ROUTES}
    for route in ROUTES:  # warm
        client.get(f"/etl/{route}", headers=headers).raise_for_status()
    for _ in range(repeat):
        for route in ROUTES:  # round robin: a busy moment slows all of them alike
            started = time.perf_counter()
            response = client.get(f"/etl/{route}", headers=headers)
            timings[route].times.append(time.perf_counter() - started)
            response.raise_for_status()
            timings[route].extra["bytes"] = len(response.content)
    for t in timings.values():
        print(f"  {t.name}: median {t.median * 1000:.0f} ms, worst {max(t.times) * 1000:.0f} ms", flush=True)
    return timings


def time_page(base_url: str, token: str, repeat: int) -> tuple[Timing, Timing, dict]:
    from reliable_etl_dev.browser import Chromium

    cold, warm = Timing("page, fresh browser profile"), Timing("page, reloaded")
    shown: dict = {}
    ready = "window.etlDashboard && window.etlDashboard.ready && window.etlDashboard.loadMs"
    for _ in range(repeat):
        with Chromium() as browser:
            page = browser.page()
            page.set_cookie("_token", token, base_url)
            for timing in (cold, warm):
                page.navigate(f"{base_url}/etl/")
                page.wait_for(ready, timeout=60)
                state = page.evaluate("window.etlDashboard")
                if state["failed"]:
                    raise RuntimeError(f"the page failed: {state['failed']}")
                timing.times.append(state["loadMs"] / 1000)
            shown = page.evaluate(
                "({segments: document.querySelectorAll('#timeline-svg rect.seg').length,"
                " months: document.querySelectorAll('#months-grid td.cell').length,"
                " series: document.querySelectorAll('#history-svg path.series').length,"
                " sync_rows: document.querySelectorAll('#sync-body tr').length,"
                " errors: document.querySelectorAll('#errors-list li.error').length})"
            )
    for t in (cold, warm):
        print(f"  {t.name}: median {t.median * 1000:.0f} ms, worst {max(t.times) * 1000:.0f} ms", flush=True)
    return cold, warm, shown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--page-repeat", type=int, default=10)
    parser.add_argument("--no-sync", action="store_true", help="skip the sync data (quicker, not the target's setup)")
    parser.add_argument("--no-history", action="store_true", help="skip the year of ledger history")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="etl_bench_dash_") as tmp_name, fresh_database() as database:
        tmp = Path(tmp_name)
        os.environ.update(
            {
                "ETL_HOME": str(tmp / "home"),
                "ETL_RETAIL_START_DATE": "2010-12-01",
                "ETL_RETAIL_END_DATE": "2011-12-09",
                "ETL_SYNC_PAGE_SIZE": SYNC_PAGE_SIZE,
            }
        )
        import logging

        logging.getLogger("reliable_etl").setLevel(logging.WARNING)
        from bench_maintenance import load_retail

        from reliable_etl.config import settings
        from reliable_etl.ops import init_schema

        settings.cache_clear()
        init_schema()
        print("loading the warehouse", flush=True)
        warehouse = {"retail_rows": load_retail(tmp)}
        if not args.no_sync:
            warehouse["sync_items"] = load_sync()
        if not args.no_history:
            warehouse.update(add_history())
        else:
            from reliable_etl import db

            with db.connect(autocommit=True) as conn:
                warehouse["sync_pages"] = conn.execute("select coalesce(sum(pages), 0) from ops.sync_jobs").fetchone()[
                    0
                ]
        print(f"  warehouse: {warehouse}", flush=True)

        import httpx

        from reliable_etl_dev.airflow_local import LocalAirflow
        from reliable_etl_dev.browser import available

        dags = tmp / "dags"
        dags.mkdir()
        (dags / "bench_toy.py").write_text(TOY_DAG)
        with (
            airflow_metadata_database(database) as metadata_db,
            LocalAirflow(
                tmp / "airflow", dags, metadata_db=metadata_db, auth_users={"ada": "admin", "val": "viewer"}
            ) as af,
        ):
            af.wait_parsed("bench_toy", timeout=120)
            token = af.token("val")
            with httpx.Client(base_url=af.base_url, timeout=60) as client:
                print("\n[1] the API, as a viewer", flush=True)
                routes = time_routes(client, {"Authorization": f"Bearer {token}"}, args.repeat)
            page = None
            if why := available():
                print(f"\n[2] the page: SKIPPED: {why}")
            else:
                print("\n[2] the page in headless Chromium", flush=True)
                page = time_page(af.base_url, token, args.page_repeat)

        rows = [[t.name, f"{t.median * 1000:.0f} ms", f"{max(t.times) * 1000:.0f} ms", f"{t.extra['bytes']:,}"]
                for t in routes.values()]  # fmt: skip
        sequential = sum(routes[r].median for r in PAGE_CALLS)
        rows.append(["the page's six calls, one after another (sum of medians)", f"{sequential * 1000:.0f} ms", "", ""])
        if page:
            cold, warm, shown = page
            print(f"  the page drew: {shown}")
            for t in (cold, warm):
                rows.append([t.name, f"{t.median * 1000:.0f} ms", f"{max(t.times) * 1000:.0f} ms",
                             verdict(max(t.times) < TARGET_S)])  # fmt: skip
        print()
        print_table(["measurement", "median", "worst", "bytes / target < 1 s"], rows)
        path = write_results(
            "dashboard",
            {
                "machine": machine_info(database),
                "args": vars(args),
                "warehouse": warehouse,
                "routes": {name: t.as_dict() for name, t in routes.items()},
                "page": {t.name: t.as_dict() for t in page[:2]} | {"shown": page[2]} if page else None,
                "median_ms": {t.name: round(statistics.median(t.times) * 1000, 1) for t in routes.values()},
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
        )
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
