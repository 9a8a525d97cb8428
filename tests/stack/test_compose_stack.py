"""The production stack of ``docker-compose.yaml``, built, started and exercised as an operator would.

One stack for the module (``reliable_etl_dev.stack``): the machine's Docker engine, or Debian's
started for the test; stand-ins of the official images where no registry answers; the project's
image; a ``.env`` of fresh secrets; ``up --wait``. Then, in order:

1. every service healthy, no import error, the init job run a second time without harm;
2. the sample's 14-day catch-up through the two Celery workers, while Redis restarts (day 3), a
   worker is SIGKILLed in the middle of a task (day 8: its task is retried on the other worker, the
   crashed one is back by its restart policy) and the warehouse restarts (after day 8): every run
   succeeds and the warehouse equals a CLI run of the days;
3. the dashboard (401 without a token, its JSON with one); ``etl status`` in a worker;
4. the nightly backup restored into a scratch database of the stack, row counts equal;
5. ``down`` then ``up``: runs and rows kept, nothing run twice;
6. flower under its profile: healthy, behind its login.

Wall times, image sizes, memory per service and idle CPU go to ``bench/results/stack-*.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from reliable_etl_dev import ROOT, SAMPLE_CSV, scratch
from reliable_etl_dev.stack import images
from reliable_etl_dev.stack.compose import Stack
from reliable_etl_dev.stack.engine import EngineUnavailable, docker_engine

pytestmark = [pytest.mark.slow, pytest.mark.stack]

DAG = "retail_daily"
DAYS = [dt.date(2011, 1, 24) + dt.timedelta(days=n) for n in range(14)]
HELD_DAY = dt.date(2011, 1, 31)  # its load waits on an advisory lock while its worker is killed
SETTINGS = {
    "ETL_RETAIL_START_DATE": DAYS[0].isoformat(),
    "ETL_RETAIL_END_DATE": DAYS[-1].isoformat(),
    "ETL_RETAIL_POKE_SECONDS": "15",
    "ETL_LOCK_TIMEOUT_MS": "900000",  # the held day waits for its lock instead of retrying
}
SILVER = (
    "select md5(string_agg(concat_ws('|', sales_date, source_line, invoice_no, stock_code, quantity, unit_price,"
    " amount, customer_id, country, is_return, is_product), ',' order by sales_date, source_line)),"
    " count(*) from silver.fact_sales_daily"
)
GOLD = (
    "select md5(string_agg(concat_ws('|', month_key, invoices, lines, units_sold, net_amount, input_fingerprint),"
    " ',' order by month_key)), count(*) from gold.fact_sales_monthly"
)
RESULTS: dict = {"started": dt.datetime.now(dt.UTC).isoformat()}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    started = time.monotonic()
    with contextlib.ExitStack() as cleanup:
        try:
            engine = cleanup.enter_context(docker_engine(ROOT / ".etl" / "docker"))
        except EngineUnavailable as exc:
            pytest.skip(f"NO DOCKER ENGINE, the compose stack was NOT tested: {exc}")
        cleanup.callback(_write_results, started)
        stack = Stack(engine, work, SETTINGS)
        cleanup.callback(stack.down, volumes=True)
        cleanup.callback(_save_logs, stack, work)
        RESULTS["engine_started_here"] = engine.started_here
        RESULTS["stand_in_build_s"] = images.ensure_stand_ins(engine)
        stack.down(volumes=True)  # a stack a crashed run left behind
        build = time.monotonic()
        stack.compose("build", timeout=2400)
        RESULTS["project_image_build_s"] = round(time.monotonic() - build, 1)
        RESULTS["up_to_healthy_s"] = round(stack.up(), 1)
        RESULTS["image_mb"] = {
            "apache/airflow:3.3.2-python3.11": round(images.size_mb(engine, "apache/airflow:3.3.2-python3.11"), 1),
            stack.env["AIRFLOW_IMAGE_NAME"]: round(images.size_mb(engine, stack.env["AIRFLOW_IMAGE_NAME"]), 1),
        }
        yield stack


def _save_logs(stack: Stack, work: Path) -> None:
    with contextlib.suppress(Exception):
        (work / "compose-logs.txt").write_text(stack.compose("logs", "--no-color", check=False).stdout)


def _write_results(started: float) -> None:
    RESULTS["wall_s"] = round(time.monotonic() - started, 1)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"stack-{stamp}.json", "stack-latest.json"):
        (out / name).write_text(json.dumps(RESULTS, indent=2, default=str) + "\n")


def warehouse(stack: Stack) -> psycopg.Connection:
    """The stack's warehouse from the host, as the bundle's role (its published port)."""
    return psycopg.connect(
        host="127.0.0.1",
        port=int(stack.env["WAREHOUSE_PORT"]),
        user="etl",
        password=stack.env["ETL_WAREHOUSE_PASSWORD"],
        dbname="warehouse",
        autocommit=True,
    )


def runs(stack: Stack, dag_id: str = DAG) -> dict[str, dict]:
    body = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()
    return {r["dag_run_id"]: r for r in body["dag_runs"]}


def run_of(stack: Stack, day: dt.date) -> dict | None:
    return next((r for r in runs(stack).values() if r["logical_date"][:10] == day.isoformat()), None)


def task(stack: Stack, run_id: str, task_id: str) -> dict:
    return stack.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}").json()


def wait_run(stack: Stack, day: dt.date, state: str, timeout: float = 900) -> dict:
    """The run of ``day`` once it is in ``state``."""

    def reached() -> dict | None:
        run = run_of(stack, day)
        return run if run and run["state"] == state else None

    return stack.wait_until(reached, timeout, f"the run of {day} {state}")


def wait_task(stack: Stack, run_id: str, task_id: str, state: str, timeout: float = 900) -> dict:
    """The task instance once it is in ``state``."""

    def reached() -> dict | None:
        ti = task(stack, run_id, task_id)
        return ti if ti.get("state") == state else None

    return stack.wait_until(reached, timeout, f"{task_id} of {run_id} {state}")


# --- 1. up ------------------------------------------------------------------------------------


def test_every_service_is_healthy_and_nothing_failed_to_import(stack: Stack) -> None:
    containers = {c["Name"]: c for c in stack.containers()}
    init = [c for c in containers.values() if c["Service"] == "airflow-init"]
    assert [(c["State"], c["ExitCode"]) for c in init] == [("exited", 0)]
    running = [c for c in containers.values() if c["Service"] != "airflow-init"]
    assert {c["Service"] for c in running} == {
        "postgres", "warehouse", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
        "airflow-triggerer", "airflow-worker",
    }  # fmt: skip
    assert [c["Name"] for c in running if (c["State"], c["Health"]) != ("running", "healthy")] == []
    assert len([c for c in running if c["Service"] == "airflow-worker"]) == 2
    stack.wait_until(lambda: stack.api("GET", f"/api/v2/dags/{DAG}").status_code == 200, 300, f"{DAG} parsed")
    dags = stack.api("GET", "/api/v2/dags", params={"limit": 100}).json()["dags"]
    assert {"retail_daily", "files_nightly", "engineering_sync", "etl_health"} <= {d["dag_id"] for d in dags}
    assert stack.api("GET", "/api/v2/importErrors").json()["total_entries"] == 0


def test_the_init_job_runs_again_without_harm(stack: Stack) -> None:
    with warehouse(stack) as conn:
        before = conn.execute("select count(*) from ops.schema_migrations").fetchone()[0]
    again = stack.run_once("airflow-init")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already exists" in again.stdout + again.stderr  # the users are kept
    assert "applied" not in again.stdout  # no schema script ran again
    with warehouse(stack) as conn:
        assert conn.execute("select count(*) from ops.schema_migrations").fetchone()[0] == before


def test_secrets_reach_only_the_services_that_need_them(stack: Stack) -> None:
    def env_of(service: str) -> str:
        return stack.exec(service, "env").stdout

    worker, scheduler, triggerer = env_of("airflow-worker"), env_of("airflow-scheduler"), env_of("airflow-triggerer")
    for secret in ("AIRFLOW_DB_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_ADMIN_PASSWORD",
                   "WAREHOUSE_ADMIN_PASSWORD"):  # fmt: skip
        assert stack.env[secret] not in worker, secret  # the tasks' processes never see them
    assert stack.env["ETL_WAREHOUSE_PASSWORD"] in worker  # the warehouse, which the tasks write
    assert stack.env["ETL_WAREHOUSE_PASSWORD"] not in scheduler + triggerer
    assert stack.env["AIRFLOW_ADMIN_PASSWORD"] not in scheduler + triggerer + env_of("airflow-apiserver")
    assert "FLOWER_" not in worker + scheduler  # the file .env is not handed over wholesale


# --- 2. the catch-up, with faults ----------------------------------------------------------------


def _inspect(stack: Stack, container_id: str) -> dict:
    return json.loads(stack.engine.docker("inspect", container_id).stdout)[0]


def _worker_main_pid(stack: Stack, container_id: str) -> int:
    """The host pid of the container's `airflow celery worker` main process (dumb-init's child)."""
    top = stack.engine.docker("top", container_id, "-eo", "pid,ppid,args").stdout.splitlines()[1:]
    procs = [line.split(None, 2) for line in top]
    init = next(int(pid) for pid, _, args in procs if "dumb-init" in args)
    return next(int(pid) for pid, ppid, args in procs if int(ppid) == init and "celery" in args)


def test_the_catch_up_survives_restarts_and_a_crashed_worker(stack: Stack, tmp_path: Path) -> None:
    stack.compose("cp", "--index", "1", str(SAMPLE_CSV), "airflow-worker:/tmp/sample.csv")
    split = stack.exec("airflow-worker", "etl", "retail", "split", "--source", "/tmp/sample.csv", "--landing",
                       "/opt/airflow/landing/retail")  # fmt: skip
    assert "into 14 daily files" in split.stdout
    key = f"retail:day:{HELD_DAY}"
    with warehouse(stack) as held:
        held.execute("select pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        assert stack.api("PATCH", f"/api/v2/dags/{DAG}", json={"is_paused": False}).status_code == 200
        catch_up = time.monotonic()

        wait_run(stack, DAYS[2], "running")
        stack.compose("restart", "redis")

        run = wait_run(stack, HELD_DAY, "running")
        load = wait_task(stack, run["dag_run_id"], "load_day", "running")
        victim = next(c for c in stack.containers() if c["Service"] == "airflow-worker" and
                      c["ID"].startswith(load["hostname"][:12]))  # fmt: skip
        restarts = _inspect(stack, victim["ID"])["RestartCount"]
        killed_at = time.monotonic()
        os.kill(_worker_main_pid(stack, victim["ID"]), signal.SIGKILL)
        # back by `restart: unless-stopped`; then held (paused) while the task's retry is due, as a
        # crashed machine would be: the retry must go to the other worker
        stack.wait_until(
            lambda: (
                (info := _inspect(stack, victim["ID"]))["RestartCount"] == restarts + 1 and info["State"]["Running"]
            ),
            120,
            "the crashed worker restarted by its policy",
        )
        stack.engine.docker("pause", victim["ID"])
        held.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    retried = wait_task(stack, run["dag_run_id"], "load_day", "success")
    RESULTS["crashed_worker_task_to_success_s"] = round(time.monotonic() - killed_at, 1)
    stack.engine.docker("unpause", victim["ID"])
    assert retried["try_number"] == load["try_number"] + 1
    assert retried["hostname"] != load["hostname"]  # the other worker
    stack.wait_until(
        lambda: all(c["Health"] == "healthy" for c in stack.containers() if c["Service"] == "airflow-worker"),
        300,
        "both workers healthy again",
    )
    stack.compose("restart", "warehouse")  # days 9 to 14 are still to come

    def done() -> bool:
        states = [r["state"] for r in runs(stack).values()]
        return len(states) == len(DAYS) and all(s == "success" for s in states)

    stack.wait_until(done, 1800, "every day's run succeeded", poll=5)
    RESULTS["catch_up_14_days_s"] = round(time.monotonic() - catch_up, 1)
    hosts = set()
    for r in runs(stack).values():
        tis = stack.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{r['dag_run_id']}/taskInstances").json()
        hosts |= {ti["hostname"] for ti in tis["task_instances"] if ti["hostname"]}
    assert len(hosts) == 2  # both workers took tasks

    # the warehouse equals a CLI run of the same days
    from reliable_etl.retail.landing import split_export

    split_export(SAMPLE_CSV, tmp_path / "landing")
    with scratch.server() as (admin, _), scratch.database(admin, prefix="etl_test_stack_cli") as name:
        env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(admin, name), "ETL_HOME": str(tmp_path)}
        days = ("--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat())
        etl = str(Path(sys.executable).with_name("etl"))
        cli = subprocess.run(
            [etl, "retail", "run", *days, "--landing", str(tmp_path / "landing")],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        with psycopg.connect(scratch.libpq_uri(admin, name)) as local, warehouse(stack) as conn:
            for query in (SILVER, GOLD):
                assert conn.execute(query).fetchone() == local.execute(query).fetchone()
            rejects = "select count(*) from ops.rejected_rows where pipeline_name = 'retail'"
            assert conn.execute(rejects).fetchone() == local.execute(rejects).fetchone()


# --- 3. the operator's tools -------------------------------------------------------------------------


def test_the_dashboard_needs_a_login_and_answers_with_one(stack: Stack) -> None:
    anonymous = httpx.get(f"{stack.base_url}/etl/health", timeout=60)
    assert anonymous.status_code == 401
    health = stack.api("GET", "/etl/health")
    assert (health.status_code, health.headers["content-type"]) == (200, "application/json")
    assert {p["pipeline"] for p in health.json()["pipelines"]} >= {"retail"}
    timeline = stack.api("GET", "/etl/timeline").json()
    assert timeline["counts"]["processed"] == len(DAYS)


def test_etl_status_in_a_worker_exits_0(stack: Stack) -> None:
    status = stack.exec("airflow-worker", "etl", "status", check=False)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "warehouse" in status.stdout


# --- 4. the nightly backup, restored -------------------------------------------------------------------


def test_the_nightly_backup_restores_with_equal_row_counts(stack: Stack) -> None:
    dag = "etl_maintenance_daily"
    stack.api("PATCH", f"/api/v2/dags/{dag}", json={"is_paused": False})
    run_id = stack.api("POST", f"/api/v2/dags/{dag}/dagRuns", json={"logical_date": None}).json()["dag_run_id"]
    stack.wait_until(
        lambda: stack.api("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}").json()["state"] in {"success", "failed"},
        900,
        "the nightly maintenance run",
    )
    assert stack.api("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}").json()["state"] == "success"
    listed = stack.exec("airflow-worker", "etl", "backup", "list").stdout.splitlines()
    directory = listed[0].split()[0]
    stack.exec("warehouse", "psql", "-U", "postgres", "-c", "drop database if exists restore_check",
               "-c", "create database restore_check owner etl")  # fmt: skip
    target = f"postgresql://etl:{stack.env['ETL_WAREHOUSE_PASSWORD']}@warehouse:5432/restore_check"
    restored = stack.exec("airflow-worker", "etl", "backup", "restore", directory, "--into", target)
    assert "row counts as in the manifest" in restored.stdout
    counted = {}
    for line in restored.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "rows":
            counted[parts[0]] = int(parts[1].replace(",", ""))
    assert {"gold.fact_sales_monthly", "ops.pipeline_runs"} <= set(counted)
    with warehouse(stack) as conn:
        for table in ("gold.fact_sales_monthly", "gold.fact_product_performance", "ops.processed_months"):
            assert conn.execute(f"select count(*) from {table}").fetchone()[0] == counted[table], table


# --- 5. down and up ------------------------------------------------------------------------------


def test_down_and_up_keep_every_run_and_row_and_run_nothing_twice(stack: Stack) -> None:
    def state() -> tuple:
        with warehouse(stack) as conn:
            rows = conn.execute(SILVER).fetchone(), conn.execute(GOLD).fetchone()
            ledger = conn.execute("select count(*) from ops.pipeline_runs where pipeline_name = 'retail'").fetchone()
        tries = {}
        for r in runs(stack).values():
            tis = stack.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{r['dag_run_id']}/taskInstances").json()
            tries |= {(r["dag_run_id"], ti["task_id"]): (ti["state"], ti["try_number"]) for ti in tis["task_instances"]}
        return rows, ledger, {k: (r["state"]) for k, r in runs(stack).items()}, tries

    before = state()
    stack.compose("down", "--timeout", "120")
    assert [c for c in stack.containers() if c["State"] == "running"] == []
    up_at = dt.datetime.now(dt.UTC)
    RESULTS["restart_up_to_healthy_s"] = round(stack.up(), 1)
    stack.forget_token()

    def parsed_again() -> bool:  # the dag-processor and the scheduler have worked since the restart
        dag = stack.api("GET", f"/api/v2/dags/{DAG}").json()
        return dt.datetime.fromisoformat(dag["last_parsed_time"]) > up_at

    stack.wait_until(parsed_again, 300, f"{DAG} parsed after the restart")
    assert state() == before


# --- 6. flower ---------------------------------------------------------------------------------------


def test_flower_is_healthy_and_behind_its_login(stack: Stack) -> None:
    stack.up("flower", profiles=("flower",), timeout=300)
    (flower,) = [c for c in stack.containers() if c["Service"] == "flower"]
    assert (flower["State"], flower["Health"]) == ("running", "healthy")
    url = f"http://127.0.0.1:{stack.env['FLOWER_PORT']}/"
    assert httpx.get(url, timeout=30).status_code == 401
    user, password = stack.env["FLOWER_BASIC_AUTH"].split(":", 1)
    assert httpx.get(url, auth=(user, password), timeout=30).status_code == 200


# --- what it costs ---------------------------------------------------------------------------------


def test_memory_per_service_and_idle_cpu_are_recorded(stack: Stack) -> None:
    samples = []  # a minute of the idle stack: the health checks' ticks (30 s, 60 s) fall inside it
    started = time.monotonic()
    while time.monotonic() - started < 60:
        out = stack.engine.docker("stats", "--no-stream", "--format", "{{json .}}").stdout
        samples.append([json.loads(line) for line in out.splitlines() if line.strip()])
    memory: dict[str, float] = {}
    for stat in samples[-1]:
        used = stat["MemUsage"].split("/")[0].strip()
        value, unit = float(used[:-3]), used[-3:]
        memory[stat["Name"]] = round(value * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit], 1)
    idle = [sum(float(s["CPUPerc"].rstrip("%")) for s in sample) for sample in samples]
    RESULTS["memory_mib"] = memory
    RESULTS["idle_cpu_percent_of_one_core"] = {
        "mean": round(statistics.fmean(idle), 1),
        "median": round(statistics.median(idle), 1),
        "samples": len(idle),
    }
    assert len([name for name in memory if "airflow" in name]) >= 6  # every Airflow service measured
    assert all(value >= 0 for value in idle)
