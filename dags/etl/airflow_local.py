"""Run a real Airflow (api-server, scheduler, dag-processor, triggerer) on a private home.

For the demo and the end-to-end tests. The calling process keeps its own
environment: Airflow runs in subprocesses with an explicit env, and this module
talks to it over the REST API (no AIRFLOW_HOME needed here)::

    with LocalAirflow(tmp_path / "airflow", dags_dir) as af:
        af.wait_parsed("my_dag")
        af.unpause("my_dag")
        af.wait_until(lambda: all(r.state == "success" for r in af.runs("my_dag")), 120)
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, NamedTuple

import httpx
import psutil

from etl.config import PROJECT_ROOT
from etl.recovery import AirflowApi

log = logging.getLogger(__name__)

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
POOLS = PROJECT_ROOT / "include" / "airflow" / "pools.json"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    """Airflow on `home` with `dags_folder`, LocalExecutor, no login.

    `metadata_db` is a SQLAlchemy URL of an empty PostgreSQL database for Airflow's metadata
    (``postgresql+psycopg2://...``); without it, SQLite in `home`, which answers "database is
    locked" when the scheduler and the API write at once. `env` adds to (and overrides) the
    settings of `environ()`; use it for AIRFLOW_CONN_* / ETL_* variables the tasks need.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env: dict[str, str] | None = None,
        port: int | None = None,
        metadata_db: str | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.metadata_db = metadata_db
        self.dags_folder = Path(dags_folder).resolve()
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_dir = self.home / "logs"
        self.api = AirflowApi(self.base_url)  # all admins: no token needed
        self._procs: dict[str, subprocess.Popen] = {}
        self._log_files: list[IO[bytes]] = []
        self._pgid: int | None = None

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
        env["PATH"] = f"{AIRFLOW_BIN.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
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
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
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
        env.update(self.extra_env)
        return env

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
                "# Written by etl.airflow_local at every start of this instance: its settings, so that\n"
                f"# `AIRFLOW_HOME={self.home} airflow ...` talks to it. Edit the code, not this file.\n\n"
            )
            parser.write(out)
        path.chmod(0o600)  # it holds the instance's secrets
        return path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS`` against this instance (about 2 s each); raise on failure."""
        proc = subprocess.run(
            [str(AIRFLOW_BIN), *args],
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
        self.cli("db", "migrate", timeout=300)
        log.info("airflow db migrate took %.1f s", time.monotonic() - started)
        self.cli("pools", "import", str(POOLS))  # the per-service API pools the sync DAG uses

        env = self.environ()
        for name in COMPONENTS:
            args = [str(AIRFLOW_BIN), name]
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
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{tail}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM each component, SIGKILL the group and leftovers after `timeout` s.

        Only the four main processes get SIGTERM: each stops its own children
        (a SIGTERM to the LocalExecutor workers themselves can leave the
        scheduler waiting forever on its worker queue). Task processes run in
        process groups of their own, so they are collected via psutil.
        """
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
