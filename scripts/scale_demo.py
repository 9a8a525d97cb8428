"""`make scale-demo`: the bundle's pipelines on two Celery workers on this machine, one of them SIGKILLed.

A private Airflow 3.3 with the CeleryExecutor, laid out as docker-compose.yaml lays it out but
without Docker: Redis as broker (the local one, 127.0.0.1:6379 database 5, else a private
redis-server), PostgreSQL for Airflow's metadata and for the warehouse (reliable_etl_dev.scratch: the local
server, else an embedded one), two workers started as ``airflow celery worker -H w1`` / ``-H w2``.

1. retail_daily catches up 4 days across a month end, engineering_sync syncs 8 repositories and
   3 Jira projects from the fake APIs (250 ms a request), files_nightly loads a CDNOW file:
   their tasks run on both workers (a table says which worker ran what);
2. the pools bound the API calls across the workers: the fake server's peak of concurrent
   requests per service equals its pool's slots (reliable_etl/pools.json);
3. the worker running a sync task in the middle of its pages is SIGKILLed, with its task
   processes, as a lost machine would be: after `task_instance_heartbeat_timeout` the scheduler
   retries the task on the other worker, and it resumes from its checkpoint;
4. every table equals a clean run: the CLI (`etl retail run`, `etl files load`, `etl sync`)
   into a database of its own, against the same inputs.

    python scripts/scale_demo.py [--workdir DIR]

tests/e2e/test_celery_scaleout.py runs the same scenario (`run_scenario`) and checks it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from reliable_etl.config import resource
from reliable_etl_dev import SAMPLE_CSV, scratch
from reliable_etl_dev.airflow_local import CELERY_EXECUTOR, POOLS, LocalAirflow, celery_broker

ROOT = Path(__file__).resolve().parents[1]

FIRST_DAY, LAST_DAY = dt.date(2011, 1, 29), dt.date(2011, 2, 1)  # across the January month end
REPOS = {f"acme/service-{n}": 1000 for n in range(1, 9)}  # 20 pages of 50 each
PROJECTS = {"ENG": 600, "OPS": 600, "WEB": 600}
PAGE_SIZE = 50
CDNOW_RECORDS = 2000
LATENCY_S = 0.25  # per API request: the syncs are latency-bound, as against the real APIs
WORKERS = ("w1", "w2")
CONCURRENCY = 4  # per worker: 8 slots for the 4 + 2 pool slots, a retail and a files task
HEARTBEAT_TIMEOUT_S = 20  # Airflow's default is 300
RETRY_DELAY_S = 2
DAGS = ("retail_daily", "engineering_sync", "files_nightly")
SYNC_DAG = "engineering_sync"
SERVICE_POOLS = {"github": "github_api", "jira": "jira_api"}
SETTINGS = {
    "ETL_SYNC_PAGE_SIZE": str(PAGE_SIZE),
    "ETL_SYNC_HTTP_TIMEOUT": "10",
    "ETL_JIRA_SAFETY_LAG_SECONDS": "0",  # the fake's issues are all settled
    "ETL_RETRY_WAIT_MIN": "0.05",
    "ETL_RETRY_WAIT_MAX": "0.5",
    "ETL_FILES_WAIT_HOURS": "1",
}
# the tables compared with the clean run, without the columns that name a run or a moment
COMPARED = {
    "bronze.retail_sales": ("record_no",),  # a sequence: a reloaded day gets new numbers
    "silver.fact_sales_daily": (),
    "silver.day_fingerprint": ("updated_at",),
    "gold.fact_sales_monthly": (),
    "gold.fact_product_performance": (),
    "gold.fact_country_sales": (),
    "files.cdnow_purchases": (),
    "sync.github_pull_requests": ("synced_at",),
    "sync.jira_issues": ("synced_at",),
}


@dataclasses.dataclass(frozen=True)
class TaskRun:
    """The last try of one task instance."""

    dag_id: str
    run_id: str
    task: str  # task_id, or task_id[map_index]
    try_number: int
    hostname: str | None
    state: str | None


@dataclasses.dataclass
class Killed:
    """The SIGKILLed worker and the sync task it was running."""

    worker: str
    run_id: str
    task_id: str
    map_index: int
    entity: str
    pages_before: int  # page requests of the entity when it was killed
    processes: list[int]
    tries: list[dict] = dataclasses.field(default_factory=list)  # try_number, hostname, state


@dataclasses.dataclass
class ScaleReport:
    task_runs: list[TaskRun]
    run_states: dict[str, list[str]]
    peaks: dict[str, int]  # per service: the most API requests in flight at once
    pool_slots: dict[str, int]  # per service
    killed: Killed
    refetched_pages: int  # pages of the killed entity asked for twice
    scheduled: dict[str, tuple[int, str]]  # table: (rows, md5) after the Airflow run
    clean: dict[str, tuple[int, str]]  # the same, after the clean CLI run
    status: dict  # `etl status --json` of the running stack, after the runs
    timings: dict[str, float]
    inspected: object = None  # what run_scenario's `inspect` returned

    def hosts(self, dag_id: str | None = None) -> set[str]:
        return {t.hostname for t in self.task_runs if t.hostname and dag_id in (None, t.dag_id)}

    def mismatched_tables(self) -> list[str]:
        return [t for t in COMPARED if self.scheduled[t] != self.clean[t]]


# --- inputs ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Inputs:
    landing: Path
    drop: Path
    clean_drop: Path  # files_nightly archives the drop's file: the clean run loads this copy
    relationships: Path


def prepare_inputs(workdir: Path) -> Inputs:
    """The sample's daily files, and a CDNOW_master.txt of the shipped layout (fixed seed)."""
    from reliable_etl.retail.landing import split_export

    inputs = Inputs(
        workdir / "landing", workdir / "drop", workdir / "clean-drop", resource("files", "relationships.json")
    )
    split_export(SAMPLE_CSV, inputs.landing)
    rng = random.Random(12)  # noqa: S311 - test data, not secrets
    lines = [" customer_id  date number_of_cds  dollar_value"]
    for _ in range(CDNOW_RECORDS):
        day = dt.date(1997, 1, 1) + dt.timedelta(rng.randint(0, 545))
        lines.append(f" {rng.randint(1, 23570):05d} {day:%Y%m%d}{rng.randint(1, 9):>3}{rng.uniform(5, 200):>8.2f}")
    for folder in (inputs.drop, inputs.clean_drop):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "CDNOW_master.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return inputs


def fake_connections(url: str) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps({"conn_type": "http", "host": url, "password": "fake-token"}),
        "AIRFLOW_CONN_JIRA_DEFAULT": json.dumps(
            {"conn_type": "http", "host": url, "login": "me@example.com", "password": "fake-token",
             "extra": {"deployment": "cloud"}}
        ),
    }  # fmt: skip


# --- the scenario ------------------------------------------------------------------------------


def run_scenario(
    workdir: Path,
    admin_uri: str,
    broker_url: str,
    say: Callable[[str], None] = print,
    inspect: Callable[[str, object], object] | None = None,
) -> ScaleReport:
    """Everything the module docstring says, on PostgreSQL server `admin_uri` (a warehouse and a
    metadata database of its own, dropped at the end) and the broker `broker_url`.

    ``inspect(warehouse_uri, fake_server)``, when given, runs before the databases are dropped;
    its result is the report's `inspected`."""
    from reliable_etl_dev.fakes import FakeServer

    timings: dict[str, float] = {}
    clock = time.monotonic()
    pool_slots = {service: json.loads(POOLS.read_text())[pool]["slots"] for service, pool in SERVICE_POOLS.items()}
    with contextlib.ExitStack() as stack:
        warehouse_db = stack.enter_context(scratch.database(admin_uri, prefix="etl_scale_wh"))
        clean_db = stack.enter_context(scratch.database(admin_uri, prefix="etl_scale_clean"))
        metadata_db = stack.enter_context(scratch.database(admin_uri, prefix="etl_scale_af"))
        fake = stack.enter_context(FakeServer(latency=LATENCY_S))
        for n, (repo, count) in enumerate(REPOS.items()):
            fake.github.add_repo(repo, count=count, seed=n)
        for n, (project, count) in enumerate(PROJECTS.items()):
            fake.jira.add_project(project, count=count, seed=n)
        inputs = prepare_inputs(workdir)
        env = {
            "AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(admin_uri, warehouse_db),
            **fake_connections(fake.url),
            **SETTINGS,
            "ETL_GITHUB_REPOS": ",".join(REPOS),
            "ETL_JIRA_PROJECTS": ",".join(PROJECTS),
            "ETL_RETAIL_LANDING_DIR": str(inputs.landing),
            "ETL_RETAIL_START_DATE": FIRST_DAY.isoformat(),
            "ETL_RETAIL_END_DATE": LAST_DAY.isoformat(),
            "ETL_FILES_RELATIONSHIPS": str(inputs.relationships),
            "ETL_FILES_DROP_DIR": str(inputs.drop),
            "ETL_FILES_ARCHIVE_DIR": str(workdir / "archive"),
            "ETL_HOME": str(workdir / "etl-home"),
            # a message a killed worker had received but not started stays "queued" until then
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
        }
        af = LocalAirflow(
            workdir / "airflow",
            ROOT / "dags",
            env=env,
            metadata_db=scratch.sqlalchemy_uri(admin_uri, metadata_db),
            executor=CELERY_EXECUTOR,
            broker_url=broker_url,
            task_instance_heartbeat_timeout=HEARTBEAT_TIMEOUT_S,
            retry_delay=RETRY_DELAY_S,
        )
        say(f"starting Airflow (CeleryExecutor, broker {broker_url}) in {af.home}")
        with af:
            for name in WORKERS:
                af.start_worker(name, concurrency=CONCURRENCY, wait=False)
            for name in WORKERS:
                af.wait_worker(name)
            timings["started_s"] = time.monotonic() - clock
            say(f"    api-server at {af.base_url}; workers {', '.join(af.workers())} ({CONCURRENCY} slots each)")
            for dag_id in DAGS:
                af.wait_parsed(dag_id, timeout=180)
            for dag_id in DAGS:
                af.unpause(dag_id)
            started = time.monotonic()
            days = (LAST_DAY - FIRST_DAY).days + 1
            say(f"unpaused {', '.join(DAGS)}: {days} days, {len(REPOS)} repositories, {len(PROJECTS)} projects,"
                f" {CDNOW_RECORDS:,} CDNOW records")  # fmt: skip
            killed = kill_mid_sync(af, fake, pool_slots, say)
            timings["kill_after_s"] = time.monotonic() - started
            run_states = wait_all_done(af)
            timings["runs_s"] = time.monotonic() - started
            say(f"every run finished after {timings['runs_s']:.0f} s: {run_states}")
            killed.tries = [
                {k: t[k] for k in ("try_number", "hostname", "state")}
                for t in af.api.request(
                    "GET", f"/dags/{SYNC_DAG}/dagRuns/{killed.run_id}/taskInstances/{killed.task_id}/"
                    f"{killed.map_index}/tries"
                )["task_instances"]
            ]  # fmt: skip
            task_runs = collect_task_runs(af)
            status = stack_status(af)
        peaks = {service: fake.peak_concurrency(service) for service in SERVICE_POOLS}
        keys = [repr(r.key) for r in fake.page_requests("github", killed.entity)]
        refetched = len(keys) - len(set(keys))
        scheduled = {t: fingerprint(scratch.libpq_uri(admin_uri, warehouse_db), t, x) for t, x in COMPARED.items()}
        inspected = inspect(scratch.libpq_uri(admin_uri, warehouse_db), fake) if inspect else None
        say("the same inputs through the CLI into a clean database (etl retail run, etl files load, etl sync)")
        fake.latency = 0
        clean_started = time.monotonic()
        clean_run(scratch.airflow_conn_uri(admin_uri, clean_db), fake.url, inputs, workdir)
        timings["clean_run_s"] = time.monotonic() - clean_started
        clean = {t: fingerprint(scratch.libpq_uri(admin_uri, clean_db), t, x) for t, x in COMPARED.items()}
    timings["total_s"] = time.monotonic() - clock
    return ScaleReport(
        task_runs, run_states, peaks, pool_slots, killed, refetched, scheduled, clean, status, timings, inspected
    )


def kill_mid_sync(af: LocalAirflow, fake, pool_slots: dict[str, int], say: Callable[[str], None]) -> Killed:
    """SIGKILL the worker of a sync_github task in mid-walk, once the GitHub pool was full and
    its first wave done (both workers have taken work of every DAG by then)."""
    pages = REPOS[next(iter(REPOS))] // PAGE_SIZE

    def mid_walk() -> Killed | None:
        runs = af.runs(SYNC_DAG)
        tis = af.api.task_instances(SYNC_DAG, runs[0].run_id) if runs else []
        done = sum(ti["task_id"] == "sync_github" and ti["state"] == "success" for ti in tis)
        if fake.peak_concurrency("github") < pool_slots["github"] or done < pool_slots["github"]:
            return None
        for ti in tis:
            repo = (ti.get("rendered_fields") or {}).get("repo")
            if ti["task_id"] != "sync_github" or ti["state"] != "running" or ti["hostname"] not in WORKERS or not repo:
                continue
            seen = len(fake.page_requests("github", repo))
            if 3 <= seen <= pages - 5:  # pages behind it and ahead of it
                return Killed(ti["hostname"], ti["dag_run_id"], ti["task_id"], ti["map_index"], repo, seen, [])
        return None

    target = af.wait_until(mid_walk, timeout=300, poll=0.5, what="a sync_github task in mid-walk after the first wave")
    target.processes = af.kill_worker(target.worker)
    say(f"SIGKILLed worker {target.worker} (processes {target.processes}) while {target.task_id}"
        f"[{target.map_index}] ({target.entity}) had fetched {target.pages_before} of its {pages} pages")  # fmt: skip
    return target


def wait_all_done(af: LocalAirflow, timeout: float = 400) -> dict[str, list[str]]:
    days = (LAST_DAY - FIRST_DAY).days + 1

    def done() -> dict[str, list[str]] | None:
        states = {dag_id: [r.state for r in af.runs(dag_id)] for dag_id in DAGS}
        if any("failed" in s for s in states.values()):
            raise RuntimeError(f"a run failed: {states}")
        finished = all(s and all(x == "success" for x in s) for s in states.values())
        return states if finished and len(states["retail_daily"]) == days else None

    return af.wait_until(done, timeout=timeout, poll=1, what="every run succeeded")


def collect_task_runs(af: LocalAirflow) -> list[TaskRun]:
    task_runs = []
    for dag_id in DAGS:
        for run in af.runs(dag_id):
            for ti in af.api.task_instances(dag_id, run.run_id):
                label = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
                task_runs.append(TaskRun(dag_id, run.run_id, label, ti["try_number"], ti["hostname"], ti["state"]))
    return task_runs


def stack_status(af: LocalAirflow) -> dict:
    """`etl status --json` against the running stack, as an operator would run it."""
    env = {**af.environ(), "AIRFLOW_CONN_AIRFLOW_API": af.base_url}
    proc = subprocess.run(
        [sys.executable, "-m", "reliable_etl.cli", "status", "--json"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"etl status failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}") from None


def clean_run(warehouse: str, fake_url: str, inputs: Inputs, workdir: Path) -> None:
    """The same inputs through the CLI, in-process code paths, into the database `warehouse`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "ETL_"))}
    env.update({"AIRFLOW_HOME": str(workdir / "clean-airflow-home"), "AIRFLOW_CONN_WAREHOUSE": warehouse,
                **fake_connections(fake_url), **SETTINGS, "ETL_HOME": str(workdir / "clean-home"),
                "ETL_LOG_TO_DB": "0"})  # fmt: skip
    etl = [sys.executable, "-m", "reliable_etl.cli"]
    for args in (
        ["retail", "run", "--from", FIRST_DAY.isoformat(), "--to", LAST_DAY.isoformat(),
         "--landing", str(inputs.landing)],
        ["files", "load", "--relationships", str(inputs.relationships), "--dir", str(inputs.clean_drop),
         "--archive", str(workdir / "clean-archive"), "--no-notify"],
        ["sync", "github", "--repos", ",".join(REPOS), "--concurrency", str(len(REPOS))],
        ["sync", "jira", "--projects", ",".join(PROJECTS), "--concurrency", str(len(PROJECTS))],
    ):  # fmt: skip
        proc = subprocess.run([*etl, *args], check=False, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"etl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def fingerprint(uri: str, table: str, excluded: tuple[str, ...]) -> tuple[int, str]:
    """(rows, md5 of the rows as JSON without the `excluded` columns, in a fixed order)."""
    import psycopg
    from psycopg import sql

    query = sql.SQL(
        "select count(*), md5(coalesce(string_agg(d::text, '|' order by d::text), ''))"
        " from (select to_jsonb(t) - %s::text[] as d from {} as t) as rows"
    ).format(sql.Identifier(*table.split(".")))
    with psycopg.connect(uri) as conn:
        rows, digest = conn.execute(query, (list(excluded),)).fetchone()
    return rows, digest


# --- the demo ----------------------------------------------------------------------------------


def print_report(report: ScaleReport) -> None:
    print("\nwhich worker ran what (the last try of each task instance)")
    by_dag: dict[str, dict[str, Counter]] = {}
    for t in report.task_runs:
        by_dag.setdefault(t.dag_id, {}).setdefault(t.hostname or "-", Counter())[t.task.split("[")[0]] += 1
    for dag_id, hosts in by_dag.items():
        for host, tasks in sorted(hosts.items()):
            ran = ", ".join(f"{task} x{n}" if n > 1 else task for task, n in sorted(tasks.items()))
            print(f"  {dag_id:<17} {host:<3} {sum(tasks.values()):>2} tasks: {ran}")
    print("\nthe pools across both workers (peak of concurrent API requests at the fake server)")
    for service, slots in report.pool_slots.items():
        peak = report.peaks[service]
        verdict = "equal" if peak == slots else "DIFFERENT"
        print(f"  {service:<7} peak {peak}, pool {SERVICE_POOLS[service]} {slots} slots: {verdict}")
    k = report.killed
    print(f"\nthe SIGKILLed worker {k.worker}: {k.task_id}[{k.map_index}] ({k.entity}) after {k.pages_before} pages")
    for t in k.tries:
        print(f"  try {t['try_number']}: {t['hostname']:<3} {t['state']}")
    print(f"  pages of {k.entity} fetched twice: {report.refetched_pages} (resumed from its checkpoint)")
    print("\nevery table against the clean CLI run (rows, md5 of the rows)")
    for table in COMPARED:
        same = report.scheduled[table] == report.clean[table]
        print(f"  {table:<30} {report.scheduled[table][0]:>6} rows  {'equal' if same else 'DIFFERENT'}")
    print("\n`etl status` of the running stack, after the runs")
    for s in report.status["services"]:
        print(f"  {s['name']:<15} {s['status']:<7} {s['detail']}")
    print("\ntimings: " + ", ".join(f"{k} {v:.0f}" for k, v in report.timings.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir", type=Path, help="keep the Airflow home, logs and inputs here (default: a temporary one)"
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="etl-scale-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with scratch.server() as (admin_uri, source), celery_broker(workdir) as broker_url:
        print(f"PostgreSQL: {source}; work directory {workdir}")
        report = run_scenario(workdir, admin_uri, broker_url, say=lambda line: print(line, flush=True))
    print_report(report)
    ok = (
        report.hosts() == set(WORKERS)
        and report.peaks == report.pool_slots
        and report.killed.tries[-1]["state"] == "success"
        and report.killed.tries[-1]["hostname"] != report.killed.worker
        and not report.mismatched_tables()
    )
    print("\n" + ("all shown as claimed" if ok else "SOMETHING DIFFERS: see above"))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
