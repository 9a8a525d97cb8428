"""``docker-compose.yaml`` driven as an operator drives it, under a project name of its own.

    stack = Stack(engine, workdir)          # a .env of fresh secrets and free ports in workdir
    stack.compose("build"); stack.up()       # `up -d --wait`: every service healthy
    stack.exec("airflow-worker", "etl", "status")
    stack.down(volumes=True)                 # at the end: containers, networks and volumes gone

The test override (``dev/stack/compose.test.yaml``) caps each service's CPU so that the stack fits
two cores. Nothing is written into the checkout: the ``.env`` and the ETL settings file live in
``workdir`` (``--env-file``, ``ETL_SETTINGS_FILE``).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from reliable_etl_dev import ROOT
from reliable_etl_dev.airflow_local import free_port
from reliable_etl_dev.stack.engine import Engine

PROJECT = "reliable-etl-stacktest"
FILES = (ROOT / "docker-compose.yaml", ROOT / "dev" / "stack" / "compose.test.yaml")


def fresh_env(settings_file: Path) -> dict[str, str]:
    """What an operator puts in ``.env``: every secret new, the ports free on this machine."""

    def token() -> str:
        return secrets.token_urlsafe(18)

    return {
        "AIRFLOW_UID": "50000",
        "AIRFLOW_IMAGE_NAME": "reliable-etl-airflow:stacktest",
        "AIRFLOW_DB_PASSWORD": token(),
        "REDIS_PASSWORD": token(),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": token(),
        "AIRFLOW_ADMIN_USERNAME": "admin",
        "AIRFLOW_ADMIN_PASSWORD": token(),
        "AIRFLOW_API_USERNAME": "etl-service",
        "AIRFLOW_API_PASSWORD": token(),
        "WAREHOUSE_ADMIN_PASSWORD": token(),
        "ETL_WAREHOUSE_PASSWORD": token(),
        "FLOWER_BASIC_AUTH": f"flower:{token()}",
        "AIRFLOW_API_PORT": str(free_port()),
        "WAREHOUSE_PORT": str(free_port()),
        "FLOWER_PORT": str(free_port()),
        "ETL_SETTINGS_FILE": str(settings_file),
    }


class Stack:
    """One compose project of the bundle's stack, with its own secrets, settings and ports."""

    def __init__(self, engine: Engine, workdir: Path, settings: dict[str, str] | None = None) -> None:
        self.engine, self.workdir = engine, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.settings_file = workdir / "etl.env"
        self.settings_file.write_text("".join(f"{k}={v}\n" for k, v in (settings or {}).items()))
        self.env = fresh_env(self.settings_file)
        self.env_file = workdir / ".env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        self.env_file.chmod(0o600)
        self.base_url = f"http://127.0.0.1:{self.env['AIRFLOW_API_PORT']}"
        self._token: str | None = None

    # -- compose ------------------------------------------------------------------------------

    def compose(
        self, *args: str, timeout: float = 1800, check: bool = True, profiles: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.engine.compose_binary), "-p", PROJECT, "--env-file", str(self.env_file)]
        argv += [item for f in FILES for item in ("-f", str(f))]
        argv += [item for p in profiles for item in ("--profile", p)]
        proc = subprocess.run(
            [*argv, *args], cwd=ROOT, env=self.engine.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"compose {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-5000:]}")
        return proc

    def up(self, *services: str, profiles: tuple[str, ...] = (), timeout: float = 900) -> float:
        """``up -d --wait``: returns the seconds until every service was healthy (or the job done)."""
        started = time.monotonic()
        self.compose("up", "-d", "--wait", "--wait-timeout", str(int(timeout)), *services, profiles=profiles,
                     timeout=timeout + 120)  # fmt: skip
        return time.monotonic() - started

    def down(self, *, volumes: bool = False) -> None:
        self.compose("down", "--remove-orphans", *(["--volumes"] if volumes else []), "--timeout", "60",
                     profiles=("flower",))  # fmt: skip

    def exec(self, service: str, *command: str, timeout: float = 600, check: bool = True):
        return self.compose("exec", "-T", service, *command, timeout=timeout, check=check)

    def run_once(self, service: str, *, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run a one-off service (the init job) again, as `docker compose up <job>` would."""
        return self.compose("run", "--rm", "--no-deps", service, timeout=timeout, check=False)

    def containers(self) -> list[dict]:
        """``compose ps --all``: one dict per container (Service, Name, ID, State, Health, ExitCode)."""
        out = self.compose("ps", "--all", "--format", "json").stdout.strip()
        if not out:
            return []
        if out.startswith("["):
            return json.loads(out)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def container(self, service: str, index: int = 1) -> dict:
        (found,) = [c for c in self.containers() if c["Service"] == service and c["Name"].endswith(f"-{index}")]
        return found

    # -- the operator's view --------------------------------------------------------------------

    def token(self) -> str:
        if self._token is None:
            resp = httpx.post(
                f"{self.base_url}/auth/token",
                json={"username": self.env["AIRFLOW_ADMIN_USERNAME"], "password": self.env["AIRFLOW_ADMIN_PASSWORD"]},
                timeout=60,
            )
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return self._token

    def forget_token(self) -> None:
        """After a restart of the api-server: the next call logs in again."""
        self._token = None

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=120, **kwargs)

    def wait_until(self, predicate: Callable[[], object], timeout: float, what: str, poll: float = 2.0) -> object:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
            time.sleep(poll)
