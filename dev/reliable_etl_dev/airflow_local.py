"""Run a real Airflow (api-server, scheduler, dag-processor, triggerer) on a private home.

For the demo and the end-to-end tests. The calling process keeps its own
environment: Airflow runs in subprocesses with an explicit env, and this module
talks to it over the REST API (no AIRFLOW_HOME needed here)::

    with LocalAirflow(tmp_path / "airflow", dags_dir) as af:
        af.wait_parsed("my_dag")
        af.unpause("my_dag")
        af.wait_until(lambda: all(r.state == "success" for r in af.runs("my_dag")), 120)

Celery mode (the scale-out of a production deployment on one machine): CeleryExecutor with a
Redis broker and PostgreSQL metadata; workers are started and killed one by one::

    with LocalAirflow(home, dags_dir, metadata_db=pg_url, executor="CeleryExecutor",
                      task_instance_heartbeat_timeout=20, retry_delay=2) as af:
        af.start_worker("w1", concurrency=4)
        af.start_worker("w2", concurrency=4)   # task instances' hostname: "w1" / "w2"
        ...
        af.kill_worker("w1")                   # SIGKILL of the worker and its task processes
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, NamedTuple

import httpx
import psutil

from reliable_etl.config import resource
from reliable_etl_plugin.recovery import AirflowApi

log = logging.getLogger(__name__)

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
POOLS = resource("pools.json")
# Celery mode: the local Redis, a database of its own (other users of that Redis keep theirs)
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
CELERY_EXECUTOR = "CeleryExecutor"
WORKER_NAME_VAR = "ETL_AIRFLOW_WORKER_NAME"  # a Celery worker's name, its tasks' hostname
RETRY_POLICY_MARK = "# Written by reliable_etl_dev.airflow_local (retry_delay)"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the local Celery workers: the worker's name (``w1``).

    Several workers on one machine share its host name; with this, a task instance's
    hostname says which worker ran it, as it does on separate machines or containers.
    """
    return os.environ.get(WORKER_NAME_VAR) or socket.getfqdn()


@contextlib.contextmanager
def celery_broker(workdir: Path, url: str = DEFAULT_BROKER_URL) -> Iterator[str]:
    """A Redis for the Celery mode: `url` when it answers, else a private ``redis-server`` on a
    free port (data in `workdir`, stopped at the end); yields its URL."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pass
    else:
        yield url
        return
    exe = shutil.which("redis-server")
    if not exe:
        raise RuntimeError(f"the CeleryExecutor needs Redis: none answers at {url} and redis-server is not installed")
    port = free_port()
    args = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    private = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                redis.Redis.from_url(private, socket_connect_timeout=1).ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        log.info("no Redis at %s: a private one at %s", url, private)
        yield private
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class RunInfo(NamedTuple):
    """One DAG run as the REST API reports it."""

    run_id: str
    logical_date: datetime | None
    state: str
    start_date: datetime | None
    end_date: datetime | None


class LocalAirflow:
    """Airflow on `home` with `dags_folder`, LocalExecutor, no login, the installed plugins.

    Plugins come from the installed packages' entry points (the dashboard: reliable_etl_plugin).
    `airflow_bin` runs another environment's Airflow (a runtime virtualenv without the bundle
    installed). `dag_bundles` replaces the DAGs folder by ``[dag_processor] dag_bundle_config_list``
    entries (a ``GitDagBundle``, say), their checkouts under ``home/bundles``.

    `metadata_db` is a SQLAlchemy URL of an empty PostgreSQL database for Airflow's metadata
    (``postgresql+psycopg2://...``); without it, SQLite in `home`, which answers "database is
    locked" when the scheduler and the API write at once. `env` adds to (and overrides) the
    settings of `environ()`; use it for AIRFLOW_CONN_* / ETL_* variables the tasks need.

    `auth_users` (``{"alice": "admin", "victor": "viewer"}``; roles viewer, user, op, admin)
    turns the login on: SimpleAuthManager with those users and generated passwords instead of
    every request being an admin. ``token(user)`` logs one in; `api` then acts as the first admin.

    ``executor="CeleryExecutor"`` (needs `metadata_db`): tasks go through `broker_url` (default
    the local Redis, database 5, every key under a prefix of this home's, removed at `stop`)
    to the Celery workers `start_worker` starts; none runs until one is started.
    `task_instance_heartbeat_timeout` (s, default Airflow's 300) is how long a task of a killed
    worker stays "running" before the scheduler retries it; `retry_delay` (s) replaces every
    task's retry delay and backoff (a cluster policy), so tests see the retry at once.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path | None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        metadata_db: str | None = None,
        *,
        dag_bundles: list[dict] | None = None,
        airflow_bin: Path = AIRFLOW_BIN,
        auth_users: dict[str, str] | None = None,
        executor: str = "LocalExecutor",
        broker_url: str | None = None,
        task_instance_heartbeat_timeout: int | None = None,
        retry_delay: float | None = None,
    ) -> None:
        if executor not in {"LocalExecutor", CELERY_EXECUTOR}:
            raise ValueError(f"executor {executor!r}: LocalExecutor or {CELERY_EXECUTOR}")
        if executor == CELERY_EXECUTOR and not metadata_db:
            raise ValueError("the CeleryExecutor needs a PostgreSQL metadata_db (Airflow refuses SQLite with it)")
        self.executor = executor
        self.broker_url = broker_url or DEFAULT_BROKER_URL
        self.heartbeat_timeout = task_instance_heartbeat_timeout
        self.retry_delay = retry_delay
        self.home = Path(home).resolve()
        # every broker key of this instance under one prefix: instances sharing a Redis database
        # (tests running at once) neither take each other's tasks nor see each other's workers
        self.broker_prefix = f"etl-{hashlib.sha1(str(self.home).encode()).hexdigest()[:12]}:"  # noqa: S324
        self.metadata_db = metadata_db
        if (dags_folder is None) == (dag_bundles is None):
            raise ValueError("give a dags_folder or dag_bundles, not both")
        self.dags_folder = Path(dags_folder).resolve() if dags_folder else None
        self.dag_bundles = dag_bundles
        self.airflow_bin = Path(airflow_bin)
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_dir = self.home / "logs"
        self.auth_users = dict(auth_users or {})
        self._passwords = {user: secrets.token_urlsafe(12) for user in self.auth_users}
        admins = [user for user, role in self.auth_users.items() if role.lower() == "admin"]
        if self.auth_users and not admins:
            raise ValueError("auth_users needs an admin: the helpers below act as one")
        # all admins: no token needed; with users, the first admin's login
        login = (admins[0], self._passwords[admins[0]]) if admins else (None, None)
        self.api = AirflowApi(self.base_url, *login)
        self._procs: dict[str, subprocess.Popen] = {}
        self._log_files: list[IO[bytes]] = []
        self._pgid: int | None = None
        self._workers: dict[str, subprocess.Popen] = {}  # Celery workers, each leading its own group
        self._celery = None  # a Celery app of this process, for pings only

    def __enter__(self) -> LocalAirflow:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- environment and CLI ----------------------------------------------------------

    def environ(self) -> dict[str, str]:
        """The environment every Airflow child process gets."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not (k.startswith("AIRFLOW__") or k in {"AIRFLOW_HOME", "AIRFLOW_CONFIG"})
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # keep using (and writing) .pyc files
        env["PATH"] = f"{self.airflow_bin.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder or self.home / "dags"),
                # plugins from installed packages only (not ~/airflow/plugins or the checkout)
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.home / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",  # 4 worker processes, not 32, on a small machine
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db or f"sqlite:///{self.home / 'airflow.db'}",
                # api-server on a private port; tasks reach the Execution API there
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__BASE_URL": self.base_url,  # links in task logs and the UI
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                # no login: every request is an admin
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": str(not self.auth_users),
                # find and re-parse DAG files within seconds, not minutes
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "0",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
                # quick heartbeats, so health and scheduling react fast
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                # the task supervisor notices its task exited after at most this many
                # seconds (default 5: every task would hold an executor slot 5 s longer)
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                # keep the logs readable
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            }
        )
        if self.dag_bundles is not None:
            env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(self.dag_bundles)
            env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"] = str(self.home / "bundles")
        if self.auth_users:
            env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(f"{u}:{r}" for u, r in self.auth_users.items())
            env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(self.passwords_file)
        if self.executor == CELERY_EXECUTOR:
            env.update(self._celery_settings())
        if self.heartbeat_timeout is not None:
            env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] = str(int(self.heartbeat_timeout))
            # looked for every few seconds, not every 10 s
            interval = max(1.0, min(10.0, self.heartbeat_timeout / 4))
            env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL"] = str(interval)
        env.update(self.extra_env)
        return env

    def _celery_settings(self) -> dict[str, str]:
        return {
            "AIRFLOW__CORE__EXECUTOR": CELERY_EXECUTOR,
            # the scheduler's bound; the workers' concurrency bounds what runs at once
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            # task states in the metadata database, as in the official compose file
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.metadata_db,
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.broker_prefix,
            # Airflow's default, said here: a message a dead worker held is redelivered after a day
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
        }

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def password(self, user: str) -> str:
        """The password of one of `auth_users`."""
        return self._passwords[user]

    def token(self, user: str) -> str:
        """A JWT for one of `auth_users` (``POST /auth/token``), for ``Authorization: Bearer ...``."""
        resp = httpx.post(
            f"{self.base_url}/auth/token", json={"username": user, "password": self._passwords[user]}, timeout=30
        )
        resp.raise_for_status()
        return resp.json()["access_token"]

    def write_config(self) -> Path:
        """Write the instance's ``AIRFLOW__*`` settings into ``home/airflow.cfg``.

        So that ``AIRFLOW_HOME=<home> airflow ...`` in another terminal talks to this instance
        (same metadata database, DAGs folder, executor, API address). Keys already in the file
        are kept unless we set them; the secrets (fernet key, JWT secret) are generated once.
        """
        path = self.home / "airflow.cfg"
        parser = configparser.RawConfigParser()
        parser.optionxform = str  # keys as written
        if path.exists():
            parser.read(path, encoding="utf-8")
        settings = {k: v for k, v in self.environ().items() if k.startswith("AIRFLOW__") and k.count("__") >= 2}
        for name, value in settings.items():
            section, key = name.removeprefix("AIRFLOW__").split("__", 1)
            section, key = section.lower(), key.lower()
            if not parser.has_section(section):
                parser.add_section(section)
            parser.set(section, key, value.replace("%", "%%"))  # Airflow interpolates '%'
        for section, key, make in (
            ("core", "fernet_key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()),
            ("api_auth", "jwt_secret", lambda: base64.b64encode(os.urandom(16)).decode()),
        ):
            if not parser.has_section(section):
                parser.add_section(section)
            if not parser.get(section, key, fallback=""):
                parser.set(section, key, make())
        self.home.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            out.write(
                "# Written by reliable_etl_dev.airflow_local at every start of this instance: its settings, so that\n"
                f"# `AIRFLOW_HOME={self.home} airflow ...` talks to it. Edit the code, not this file.\n\n"
            )
            parser.write(out)
        path.chmod(0o600)  # it holds the instance's secrets
        return path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS`` against this instance (about 2 s each); raise on failure."""
        proc = subprocess.run(
            [str(self.airflow_bin), *args],
            env=self.environ(),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    # -- lifecycle -------------------------------------------------------------------

    def start(self, timeout: float = 120) -> None:
        """Migrate the DB, start the four components in one process group, wait until healthy."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._claim_home()
        started = time.monotonic()
        self.write_config()
        if self.auth_users:  # SimpleAuthManager keeps the passwords it finds there
            self.passwords_file.write_text(json.dumps(self._passwords) + "\n")
            self.passwords_file.chmod(0o600)
        self._write_retry_policy()
        self.cli("db", "migrate", timeout=300)
        log.info("airflow db migrate took %.1f s", time.monotonic() - started)
        self.cli("pools", "import", str(POOLS))  # the per-service API pools the sync DAG uses

        env = self.environ()
        for name in COMPONENTS:
            args = [str(self.airflow_bin), name]
            if name in {"scheduler", "triggerer"}:
                args.append("--skip-serve-logs")  # logs are read from local files; no extra port
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._log_files.append(out)
            proc = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                # the first one leads a new process group, the others join it
                process_group=0 if self._pgid is None else self._pgid,
            )
            if self._pgid is None:
                self._pgid = proc.pid
            self._procs[name] = proc
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Airflow healthy at %s after %.1f s", self.base_url, time.monotonic() - started)

    def _write_retry_policy(self) -> None:
        """``retry_delay`` as a cluster policy in ``home/config/airflow_local_settings.py``
        (Airflow puts ``home/config`` on sys.path); a policy of ours from before is removed."""
        path = self.home / "config" / "airflow_local_settings.py"
        if self.retry_delay is None:
            if path.exists() and path.read_text().startswith(RETRY_POLICY_MARK):
                path.unlink()
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"{RETRY_POLICY_MARK}: every task retries after {self.retry_delay} s, no backoff.\n"
            "import datetime\n\n\n"
            "def task_policy(task):\n"
            f"    task.retry_delay = datetime.timedelta(seconds={float(self.retry_delay)!r})\n"
            "    task.retry_exponential_backoff = 0\n"
        )

    @property
    def pid_file(self) -> Path:
        return self.home / "etl-airflow.pid"

    def _claim_home(self) -> None:
        """One running instance per home: two would share (and corrupt) one metadata database."""
        try:
            other = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            other = None
        if other and other != os.getpid() and psutil.pid_exists(other):
            raise RuntimeError(
                f"an Airflow of {self.home} already runs (process {other}, e.g. `make up`): stop it first"
            )
        self.pid_file.write_text(str(os.getpid()))

    def wait_healthy(self, timeout: float = 120) -> None:
        """Wait until the api-server answers and every component heartbeats."""

        def healthy() -> bool:
            self._check_alive()
            try:
                health = self.api.health()
            except (RuntimeError, httpx.HTTPError) as exc:  # refused while starting
                log.debug("not healthy yet: %s", exc)
                return False
            return all(part.get("status") == "healthy" for part in health.values())

        self.wait_until(healthy, timeout, poll=0.5, what="Airflow healthy")

    def _check_alive(self) -> None:
        for name, proc in [*self._procs.items(), *((f"worker-{w}", p) for w, p in self._workers.items())]:
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{tail}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM each component, SIGKILL the group and leftovers after `timeout` s.

        Only the four main processes get SIGTERM: each stops its own children
        (a SIGTERM to the LocalExecutor workers themselves can leave the
        scheduler waiting forever on its worker queue). Task processes run in
        process groups of their own, so they are collected via psutil.
        Celery workers are stopped first (`stop_worker`); the broker's keys are removed last.
        """
        for name in list(self._workers):
            self.stop_worker(name, timeout=timeout)
        try:
            self._stop_components(timeout)
        finally:
            if self.executor == CELERY_EXECUTOR:
                self.purge_broker()

    def _stop_components(self, timeout: float) -> None:
        if self._pgid is None:
            return
        procs: list[psutil.Process] = []
        for proc in self._procs.values():
            try:
                main = psutil.Process(proc.pid)
                procs += [main, *main.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=timeout)
        if alive:
            log.warning("killing %d Airflow process(es) still alive after %s s", len(alive), timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pgid, signal.SIGKILL)
            for p in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
            psutil.wait_procs(alive, timeout=5)
        for proc in self._procs.values():
            proc.wait(timeout=5)  # reap our direct children
        for out in self._log_files:
            out.close()
        self._procs.clear()
        self._log_files.clear()
        self._pgid = None
        self.pid_file.unlink(missing_ok=True)

    # -- Celery workers (executor="CeleryExecutor") -------------------------------------

    def start_worker(
        self,
        name: str,
        *,
        queues: tuple[str, ...] = ("default",),
        concurrency: int = 2,
        wait: bool = True,
        timeout: float = 120,
    ) -> int:
        """Start ``airflow celery worker -H NAME -q QUEUES -c N``; with `wait`, until it answers a ping.

        The worker leads a process group of its own, logs to ``logs/worker-NAME.log`` and
        reports NAME as its tasks' hostname. Returns its process id. Several workers start
        faster together: ``wait=False`` for each, then `wait_worker` for each.
        """
        if self.executor != CELERY_EXECUTOR:
            raise RuntimeError(f"workers need executor={CELERY_EXECUTOR!r}, this instance runs {self.executor}")
        if self._pgid is None:
            raise RuntimeError("start the instance before its workers")
        if name in self._workers:
            raise RuntimeError(f"worker {name} already runs (process {self._workers[name].pid})")
        env = {
            **self.environ(),
            WORKER_NAME_VAR: name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        }
        args = [str(self.airflow_bin), "celery", "worker", "-H", name, "-q", ",".join(queues), "-c", str(concurrency)]
        # task logs are local files; without this every worker would serve them on one port
        args += ["--skip-serve-logs", "--without-mingle", "--without-gossip"]
        out = open(self.log_dir / f"worker-{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._log_files.append(out)
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            process_group=0,
        )
        self._workers[name] = proc
        log.info("worker %s (process %d) started: concurrency %d, queues %s", name, proc.pid, concurrency, queues)
        if wait:
            self.wait_worker(name, timeout)
        return proc.pid

    def wait_worker(self, name: str, timeout: float = 120) -> None:
        """Wait until the worker `name` answers a ping (it takes tasks from then on)."""

        def answers() -> bool:
            self._check_alive()
            return name in self.workers()

        try:
            self.wait_until(answers, timeout, poll=0.5, what=f"worker {name} answers a ping")
        except BaseException:
            self.kill_worker(name)
            raise

    def workers(self, timeout: float = 1.0) -> list[str]:
        """The names of the workers that answer a ping over the broker now."""
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("etl-local-airflow", broker=self.broker_url, set_as_current=False)
            self._celery.conf.broker_transport_options = {"global_keyprefix": self.broker_prefix}
        replies = self._celery.control.ping(timeout=timeout)
        return sorted(node.partition("@")[2] for reply in replies for node in reply)

    def worker_pid(self, name: str) -> int:
        return self._workers[name].pid

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL the worker `name` as a lost machine or container would: its process group
        (the worker and its pool) and every process below it (task processes lead groups of
        their own). Its running tasks stop heartbeating; the scheduler retries them after
        `task_instance_heartbeat_timeout`. Returns the killed process ids."""
        proc = self._workers.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGSTOP)  # frozen first: nobody forks while the tree is listed
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(tree, timeout=10)
        proc.wait(timeout=10)
        log.info("killed worker %s: processes %s", name, [p.pid for p in tree])
        return [p.pid for p in tree]

    def stop_worker(self, name: str, timeout: float = 30) -> None:
        """Warm shutdown (SIGTERM: running tasks finish first); `kill_worker` after `timeout` s."""
        proc = self._workers[name]
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("worker %s still running %s s after SIGTERM: killing it", name, timeout)
        self.kill_worker(name)  # and whatever it left behind

    def purge_broker(self) -> int:
        """Delete this instance's keys (its prefix) from the broker's database; the count."""
        import redis

        if self._celery is not None:
            self._celery.close()
            self._celery = None
        client = redis.Redis.from_url(self.broker_url, socket_connect_timeout=5, socket_timeout=5)
        try:
            keys = list(client.scan_iter(match=f"{self.broker_prefix}*", count=500))
            if keys:
                client.delete(*keys)
            return len(keys)
        except redis.exceptions.ConnectionError as exc:
            log.warning("broker keys under %s not removed: %s", self.broker_prefix, exc)
            return 0
        finally:
            client.close()

    # -- helpers over the REST API ----------------------------------------------------

    def wait_until(
        self,
        predicate: Callable[[], object],
        timeout: float,
        poll: float = 1.0,
        what: str = "condition",
    ) -> object:
        """Call `predicate` every `poll` s until it returns a truthy value; return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout} s")
            time.sleep(poll)

    def wait_parsed(self, dag_id: str, timeout: float = 60) -> None:
        """Wait until the dag-processor stored `dag_id` without import errors.

        Raises at once if the DAG's file (or a file named ``<dag_id>.py``) has an
        import error, and with every import error listed on timeout.
        """

        def parsed() -> bool:
            self._check_alive()
            dag = self.api.dag(dag_id)
            errors = self.api.import_errors()
            own_file = dag["relative_fileloc"] if dag else None
            own = [e for e in errors if e["filename"] == own_file or Path(e["filename"]).stem == dag_id]
            if own:
                raise RuntimeError(f"{dag_id}: " + _format_import_errors(own))
            return dag is not None and not dag["is_stale"]

        try:
            self.wait_until(parsed, timeout, poll=0.5, what=f"DAG {dag_id} parsed")
        except TimeoutError as exc:
            errors = self.api.import_errors()
            if errors:
                raise TimeoutError(f"{exc}; {_format_import_errors(errors)}") from None
            raise

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG (the scheduler starts creating runs)."""
        self.api.set_paused(dag_id, False)

    def runs(self, dag_id: str) -> list[RunInfo]:
        """All runs of `dag_id`, oldest first."""
        return [
            RunInfo(
                r["dag_run_id"],
                _parse_dt(r.get("logical_date")),
                r["state"],
                _parse_dt(r.get("start_date")),
                _parse_dt(r.get("end_date")),
            )
            for r in self.api.dag_runs(dag_id)
        ]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id: state}`` of one run (mapped tasks as ``task_id[i]``)."""
        states = {}
        for ti in self.api.task_instances(dag_id, run_id):
            key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            states[key] = ti["state"]
        return states


def _format_import_errors(errors: list[dict]) -> str:
    return "import errors:\n" + "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
