"""Maintenance speed: the health check and `etl health` on a full warehouse; the backup against a bare pg_dump.

    python bench/bench_maintenance.py [--repeat 20] [--backup-repeat 3] [--no-sync]

The warehouse first gets the full real retail year (split_export + load_day for every day, then
gold for every month: the path of bench_retail.py) and the sync benchmark's data (20 repositories
x 2,000 pull requests and 5 Jira projects x 5,000 issues from `etl-dev fake-server`, no latency),
then the DuckDB mirror is built and Redis (127.0.0.1:6379, a key prefix of the run's own) is the
`redis_default` Connection.

1. health_check (the probes alone) and run_job("health_check") (the task: probes, result kept
   in ops.maintenance_runs, five alert conditions), warm, --repeat times: median and worst.
   Target: under 200 ms.
2. `etl health`: the watchdog of the three pipelines in-process as the command runs it (the
   Airflow REST API unreachable: refused at once), and the whole command as a new process (Python
   and Airflow imports included, for reference). Target: the watchdog under 200 ms.
3. backup_critical_data (ops + gold: dumps from one snapshot, row counts, sha256, manifest,
   pg_restore --list) against a bare `pg_dump -Fc -n ops -n gold` by the same binary, round
   robin, best of --backup-repeat. Target: at most 1.2x.

Results are printed and written to bench/results/maintenance-*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import REAL_RETAIL, Timing, fresh_database, machine_info, print_table, verdict, write_results

TARGET_MS = 200
TARGET_BACKUP_RATIO = 1.2


def load_retail(tmp: Path) -> int:
    from reliable_etl.retail.gold import rebuild_gold
    from reliable_etl.retail.landing import split_export
    from reliable_etl.retail.load import load_day

    csv_path = tmp / "online_retail.csv"
    with gzip.open(REAL_RETAIL, "rb") as src, csv_path.open("wb") as out:
        shutil.copyfileobj(src, out)
    split = split_export(csv_path, tmp / "landing")
    started = time.perf_counter()
    rows = 0
    for n in range(split.files):
        day = split.first_day + dt.timedelta(days=n)
        rows += load_day(day, run_id=f"bench_{day}", landing_dir=tmp / "landing").rows_in
        if (n + 1) % 100 == 0:
            print(f"  retail: {n + 1}/{split.files} days, {time.perf_counter() - started:.0f} s", flush=True)
    rebuild_gold(None, None, run_id="bench_gold")
    print(f"  retail: {split.files} days, {rows:,} rows, gold published in {time.perf_counter() - started:.0f} s")
    return rows


def load_sync() -> int:
    from bench_sync import fake_server

    from reliable_etl.sync.github import GitHubSync
    from reliable_etl.sync.jira import JiraSync
    from reliable_etl.sync.runner import sync_queue

    repos = {f"bench/repo-{n:02d}": 2000 for n in range(20)}
    projects = {f"P{n}": 5000 for n in range(5)}
    with fake_server(18766, 0, repos, projects) as url:
        os.environ["AIRFLOW_CONN_GITHUB_DEFAULT"] = json.dumps({"conn_type": "http", "host": url, "password": "t"})
        os.environ["AIRFLOW_CONN_JIRA_DEFAULT"] = json.dumps(
            {"conn_type": "http", "host": url, "login": "me", "password": "t", "extra": {"deployment": "cloud"}}
        )
        os.environ["ETL_JIRA_SAFETY_LAG_SECONDS"] = "0"
        from reliable_etl.config import settings

        settings.cache_clear()
        items = 0
        for sync, entities in ((GitHubSync, list(repos)), (JiraSync, list(projects))):
            results = sync_queue(lambda s=sync: s(run_id="bench_sync"), entities, run_id="bench_sync", concurrency=5)
            items += sum(r.items for r in results)
    print(f"  sync: {items:,} items")
    return items


def timed_ms(name: str, body, repeat: int) -> Timing:
    timing = Timing(name)
    body()  # warm: imports, first connections
    for _ in range(repeat):
        started = time.perf_counter()
        body()
        timing.times.append(time.perf_counter() - started)
    print(f"  {name}: median {timing.median * 1000:.1f} ms, worst {max(timing.times) * 1000:.1f} ms", flush=True)
    return timing


def bench_backup(repeat: int, tmp: Path) -> tuple[Timing, Timing, dict]:
    from reliable_etl import db
    from reliable_etl.maintenance.backup import _tool_target, backup_critical_data, binaries_for, warehouse_params

    with db.connect(autocommit=True) as conn:
        major = conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0]
    pg_dump = binaries_for(major) / "pg_dump"
    target, env = _tool_target(warehouse_params())
    bare, ours = Timing("bare pg_dump -Fc -n ops -n gold"), Timing("backup_critical_data")
    last: dict = {}
    for i in range(repeat):
        out = tmp / f"bare-{i}.dump"
        started = time.perf_counter()
        subprocess.run(
            [str(pg_dump), "-Fc", "-n", "ops", "-n", "gold", f"--file={out}", f"--dbname={target}"], env=env, check=True
        )
        bare.times.append(time.perf_counter() - started)
        bare.extra["size_bytes"] = out.stat().st_size
        out.unlink()
        started = time.perf_counter()
        result = backup_critical_data(root=tmp / "backups")
        ours.times.append(time.perf_counter() - started)
        assert result.status == "success", result.errors
        last = result.as_dict()
        print(f"  backup run {i + 1}/{repeat}: bare {bare.times[-1]:.2f} s, ours {ours.times[-1]:.2f} s", flush=True)
    ours.extra.update(rows=last["rows"], tables=last["tables"], size_bytes=last["size_bytes"])
    return bare, ours, {"pg_dump": str(pg_dump)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backup-repeat", type=int, default=3)
    parser.add_argument("--no-sync", action="store_true", help="skip the sync data (quicker, not the target's setup)")
    args = parser.parse_args()
    prefix = f"etl:bench-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory(prefix="etl_bench_maint_") as tmp_name, fresh_database() as database:
        tmp = Path(tmp_name)
        os.environ.update(
            {
                "ETL_HOME": str(tmp / "home"),
                "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": 6379}),
                "ETL_REDIS_KEY_PREFIX": prefix,
                "ETL_RETAIL_START_DATE": "2010-12-01",
                "ETL_RETAIL_END_DATE": "2011-12-09",
                "ETL_AIRFLOW_API_URL": "http://127.0.0.1:9",  # nothing listens: the API is refused at once
            }
        )
        import logging

        logging.getLogger("reliable_etl").setLevel(logging.WARNING)
        from reliable_etl.config import settings

        settings.cache_clear()
        from reliable_etl.maintenance.analytics import mirror_gold
        from reliable_etl.maintenance.health import health_check
        from reliable_etl.maintenance.tasks import run_job
        from reliable_etl.maintenance.watchdog import watchdog
        from reliable_etl.ops import init_schema

        init_schema()
        print("loading the warehouse", flush=True)
        retail_rows = load_retail(tmp)
        sync_items = 0
        if not args.no_sync:
            try:
                sync_items = load_sync()
            except Exception as exc:  # the sync code is not what is measured here
                print(f"NOTE: the sync data could not be loaded ({type(exc).__name__}: {exc}); going on without it")
        mirror = mirror_gold()
        print(f"  mirror: {sum(mirror.tables.values()):,} rows in {mirror.duration_s} s")

        print("\n[1] health check", flush=True)
        probes = timed_ms("health_check()", health_check, args.repeat)
        task = timed_ms('run_job("health_check")', lambda: run_job("health_check"), args.repeat)
        print("\n[2] etl health", flush=True)
        report = watchdog()
        print(f"  watchdog: {report.status}: " + ", ".join(f"{k} {p.status}" for k, p in report.pipelines.items()))
        dog = timed_ms("watchdog() (etl health's work)", watchdog, args.repeat)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}
        command = Timing("etl health (a new process)")
        for _ in range(3):
            started = time.perf_counter()
            etl = str(Path(sys.executable).with_name("etl"))
            subprocess.run([etl, "health"], check=False, env=env, capture_output=True)
            command.times.append(time.perf_counter() - started)
        print(f"  etl health as a process: best {command.best:.2f} s", flush=True)

        print("\n[3] backup", flush=True)
        bare, ours, backup_info = bench_backup(args.backup_repeat, tmp)
        ratio = ours.best / bare.best

        rows = [
            [t.name, f"{t.median * 1000:.1f} ms", f"{max(t.times) * 1000:.1f} ms", verdict(t.median * 1000 < TARGET_MS)]
            for t in (probes, task, dog)
        ]
        rows.append([command.name, f"{command.best:.2f} s", "", "(imports; no target)"])
        rows.append([bare.name, f"{bare.best:.2f} s", "", ""])
        rows.append([ours.name, f"{ours.best:.2f} s", f"{ratio:.2f}x", verdict(ratio <= TARGET_BACKUP_RATIO)])
        print()
        print_table(["measurement", "median / best", "worst / ratio", "target"], rows)
        path = write_results(
            "maintenance",
            {
                "machine": machine_info(database),
                "args": vars(args),
                "warehouse": {"retail_rows": retail_rows, "sync_items": sync_items, "watchdog": report.as_dict()},
                "health_check": probes.as_dict(),
                "health_check_task": task.as_dict(),
                "watchdog": dog.as_dict(),
                "etl_health_process": command.as_dict(),
                "backup": {"bare": bare.as_dict(), "ours": ours.as_dict(), "ratio": round(ratio, 3), **backup_info},
                "median_ms": {t.name: round(statistics.median(t.times) * 1000, 1) for t in (probes, task, dog)},
            },
        )
        print(f"results: {path}")
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
