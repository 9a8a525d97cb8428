"""Redis, the Celery broker, restarted under the Celery stack while tasks run.

A real Airflow with the CeleryExecutor (reliable_etl_dev.airflow_local.LocalAirflow, PostgreSQL metadata, two
workers ``w1``/``w2``) catches up retail_daily over the sample's days. Its broker is a private
``redis-server`` configured as docker-compose.yaml's (append-only file, fsync every second, a
password). At seeded moments while a task is queued or running, the broker goes down, in turn
restarted (SIGTERM: the append-only file flushed) or crashed (SIGKILL), and comes back after a
seeded outage. Invariant: every run of the catch-up succeeds (no task lost: none left queued
or running), a task that ran more than once (a retry) left the same result (the tables equal
a clean CLI run's), and nothing is duplicated.
"""

from __future__ import annotations

import datetime as dt
import inspect
import shutil
import signal
import subprocess
import time
from pathlib import Path

from chaos.compare import diff
from chaos.report import CaseResult, Trial
from chaos.workloads import RetailWorkload
from chaos.workspace import REDIS_PASSWORD, free_port, now
from reliable_etl_dev import ROOT as PROJECT_ROOT
from reliable_etl_dev import scratch

DAG = "retail_daily"
WORKERS = ("w1", "w2")
HEARTBEAT_TIMEOUT_S = 20
QUEUED_TIMEOUT_S = 45  # a task whose message the broker lost is queued again after this long


def _celery_mode() -> str | None:
    """Why the case cannot run here, or None."""
    from reliable_etl_dev import airflow_local

    params = inspect.signature(airflow_local.LocalAirflow).parameters
    if "executor" not in params or not hasattr(airflow_local.LocalAirflow, "start_worker"):
        return 'reliable_etl_dev.airflow_local.LocalAirflow has no executor="CeleryExecutor" mode'
    if not shutil.which("redis-server"):
        return "redis-server is not installed"
    try:
        import celery  # noqa: F401
    except ImportError:
        return "the Celery provider is not installed"
    return None


class Broker:
    """A private redis-server (append-only file, fsync every second, a password), to restart or crash."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        args = [
            shutil.which("redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
        ]
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--requirepass", REDIS_PASSWORD]
        log = (self.data_dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.1)

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(how)
            self.proc.wait(timeout=30)


def broker(ctx) -> CaseResult:
    case = CaseResult(
        "broker",
        "Redis (Celery broker) restarted",
        "every run of the catch-up succeeds (no task lost: none left queued or running); a task run more than"
        " once left the same result (the tables equal a clean CLI run's); no row twice.",
        "from the broker going down to the first task instance that succeeded after it came back.",
    )
    if not ctx.sizes["broker"]:
        case.skipped = "no trials asked for (--trials broker=0)"
        return case
    if why := _celery_mode():
        case.skipped = why
        return case
    ws = ctx.ws
    sample = ctx.retail_sample()
    days = 3 if ctx.ci else (sample.last - sample.first).days + 1
    workload = RetailWorkload(f"retail-{days}d", sample.landing, sample.first, sample.first + dt.timedelta(days - 1))
    clean = ctx.clean(workload)
    db = ws.database("broker")
    outages, states, tries = _catch_up(ctx, workload, db, days)
    gold = ws.etl(["retail", "gold"], db=db, label="broker-gold")  # the open month, as the clean run did
    with ws.connect(db) as conn:
        found = diff(clean, workload.snapshot(conn))
    retried = sorted(f"{run}:{task} x{n}" for (run, task), n in tries.items() if n > 1)
    problems = []
    if states.count("success") != days:
        problems.append(f"runs not all successful: {states}")
    if gold.rc != 0:
        problems.append(f"etl retail gold: {gold.tail()}")
    if not found.equal:
        problems.append(found.describe())
    for number, outage in enumerate(outages):
        params = {k: v for k, v in outage.items() if k not in ("at", "recovered_at")}
        params["tasks_run_more_than_once"] = retried
        recover = (outage["recovered_at"] - outage["at"]).total_seconds() if outage.get("recovered_at") else None
        fault = "restart (SIGTERM)" if outage["signal"] == "SIGTERM" else "crash (SIGKILL)"
        notes = []
        if retried and number == 0:
            notes.append(
                f"{len(retried)} task(s) ran twice: each a try the executor could not send while the broker was down"
            )
        trial = Trial(
            fault, not problems, found.lost, found.extra, recover and round(recover, 2), params, "; ".join(problems)
        )
        trial.notes = notes
        case.trials.append(trial)
    return case


def _catch_up(ctx, workload: RetailWorkload, db: str, days: int) -> tuple[list[dict], list[str], dict]:
    """retail_daily's catch-up on Celery workers, the broker down at seeded moments: (outages, run states, tries)."""
    from reliable_etl_dev.airflow_local import CELERY_EXECUTOR, LocalAirflow

    ws, rng = ctx.ws, ctx.rng("broker")
    metadata = ws.create_database(f"{ws.tag}_airflow_meta")
    env = {k: v for k, v in ws.env(db).items() if k.startswith(("AIRFLOW_CONN_", "ETL_")) and k != "ETL_BACKUP_DIR"}
    env.update(
        {
            "ETL_RETAIL_LANDING_DIR": str(workload.landing),
            "ETL_RETAIL_START_DATE": str(workload.first),
            "ETL_RETAIL_END_DATE": str(workload.last),
            "ETL_RETRY_WAIT_MIN": "0.05",
            "ETL_RETRY_WAIT_MAX": "0.5",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(QUEUED_TIMEOUT_S),
        }
    )
    redis_server = Broker(ws.root / "redis")
    redis_server.start()
    af = LocalAirflow(
        ws.root / "airflow-celery",
        PROJECT_ROOT / "dags",
        env=env,
        metadata_db=scratch.sqlalchemy_uri(ws.admin_uri, metadata),
        executor=CELERY_EXECUTOR,
        broker_url=redis_server.url,
        task_instance_heartbeat_timeout=HEARTBEAT_TIMEOUT_S,
        retry_delay=2,
    )
    ws.airflow_logs.append(af.log_dir)
    outages: list[dict] = []
    try:
        with af:
            for name in WORKERS:
                af.start_worker(name, concurrency=2, wait=False)
            for name in WORKERS:
                af.wait_worker(name)
            af.wait_parsed(DAG, timeout=240)
            af.unpause(DAG)
            # the outages: spread over the catch-up, each while a task is queued or running
            after = sorted(rng.sample(range(days - 1), min(ctx.sizes["broker"], days - 1)))
            for number, done in enumerate(after):
                how = signal.SIGTERM if number % 2 == 0 else signal.SIGKILL
                down = round(rng.uniform(1.0, 4.0), 2)
                outages.append(_outage(af, redis_server, done, how, down))
            return outages, _wait_done(af, days), _tries(af)
    finally:
        redis_server.stop()


def _active_task(af, dag_runs: list) -> str | None:
    for run in dag_runs:
        if run.state in ("queued", "running"):
            for ti in af.api.task_instances(DAG, run.run_id):
                if ti["state"] in ("queued", "running", "scheduled"):
                    return f"{run.run_id}:{ti['task_id']}:{ti['state']}"
    return None


def _outage(af, redis_server: Broker, done: int, how: signal.Signals, down: float) -> dict:
    """Once ``done`` runs succeeded and a task is queued or running: the broker down for ``down`` s."""

    def moment() -> str | None:
        runs = af.runs(DAG)
        if sum(r.state == "success" for r in runs) < done:
            return None
        return _active_task(af, runs)

    active = af.wait_until(moment, timeout=600, poll=0.2, what=f"a task in flight after {done} runs")
    went_down = now()
    redis_server.stop(how)
    time.sleep(down)
    redis_server.start()
    came_back = now()

    def recovered() -> dt.datetime | None:
        ends = [
            dt.datetime.fromisoformat(ti["end_date"])
            for run in af.runs(DAG)
            for ti in af.api.task_instances(DAG, run.run_id)
            if ti["state"] == "success" and ti.get("end_date") and dt.datetime.fromisoformat(ti["end_date"]) > came_back
        ]
        return min(ends) if ends else None

    recovered_at = af.wait_until(recovered, timeout=600, poll=0.5, what="a task succeeded after the outage")
    return {
        "signal": how.name,
        "after_runs": done,
        "down_s": down,
        "in_flight": active,
        "at": went_down,
        "recovered_at": recovered_at,
    }


def _wait_done(af, days: int, timeout: float = 900) -> list[str]:
    def done() -> list[str] | None:
        states = [r.state for r in af.runs(DAG)]
        if "failed" in states or (len(states) == days and all(s == "success" for s in states)):
            return states
        return None

    try:
        return af.wait_until(done, timeout=timeout, poll=1, what=f"{days} runs of {DAG} done")
    except TimeoutError:
        return [r.state for r in af.runs(DAG)]


def _tries(af) -> dict[tuple[str, str], int]:
    """How many times each task instance ran (its last try's number)."""
    return {
        (run.run_id, ti["task_id"]): ti["try_number"]
        for run in af.runs(DAG)
        for ti in af.api.task_instances(DAG, run.run_id)
    }


CASES = {"broker": broker}
