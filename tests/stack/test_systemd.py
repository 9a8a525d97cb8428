"""deploy/systemd/ for real: the units under systemd as PID 1, installed by install.sh end to end.

The machine is a container running Debian's systemd as PID 1 (``dev/stack/images/systemd``:
PostgreSQL and Redis from Debian with their own units, the runtime requirements in a virtualenv,
a user ``airflow``), the checkout mounted read-only as the project. As a platform engineer would:
install the plugin package into the virtualenv, create the databases and Redis' password, run
``install.sh`` (it writes the env file with fresh keys and stops), fill in the env file, run
``install.sh`` again (units enabled and started). Then every unit is active, a retail catch-up of
three days succeeds, and a SIGKILLed scheduler comes back by ``Restart=always``.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from reliable_etl_dev import ROOT
from reliable_etl_dev.stack import images
from reliable_etl_dev.stack.engine import Engine, EngineUnavailable, docker_engine

pytestmark = [pytest.mark.slow, pytest.mark.stack]

NAME = "reliable-etl-systemd-test"
PROJECT = "/opt/reliable-etl"
VENV = "/opt/etl-venv"
ENV_FILE = "/etc/etl/airflow.env"
UNITS = [
    "etl-airflow-init.service",
    "etl-airflow-api-server.service",
    "etl-airflow-scheduler.service",
    "etl-airflow-dag-processor.service",
    "etl-airflow-triggerer.service",
    "etl-airflow-worker@1.service",
    "etl-airflow-worker@2.service",
]
DAYS = ("2011-01-24", "2011-01-26")


def fill_in(env: str, secret: dict[str, str]) -> str:
    """The env file install.sh wrote, with the passwords of this machine's services and the sample's days."""
    for placeholder, value in (
        ("airflow:PASSWORD@", f"airflow:{secret['airflow_db']}@"),
        ("etl:PASSWORD@", f"etl:{secret['etl_db']}@"),
        ("redis://:PASSWORD@", f"redis://:{secret['redis']}@"),
        ('"login": "etl-service", "password": "PASSWORD"', f'"login": "etl-service", "password": "{secret["api"]}"'),
        ('"password": "PASSWORD", "extra"', f'"password": "{secret["redis"]}", "extra"'),
        ("AIRFLOW_ADMIN_PASSWORD=\n", f"AIRFLOW_ADMIN_PASSWORD={secret['admin']}\n"),
        ("AIRFLOW_API_PASSWORD=\n", f"AIRFLOW_API_PASSWORD={secret['api']}\n"),
    ):
        env = env.replace(placeholder, value)
    return env + f"ETL_RETAIL_START_DATE={DAYS[0]}\nETL_RETAIL_END_DATE={DAYS[1]}\nETL_RETAIL_POKE_SECONDS=10\n"


class Machine:
    """The container: commands as root, or under the units' environment as the user airflow."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sh(self, script: str, *, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = self.engine.docker("exec", NAME, "bash", "-c", script, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{script}\n-> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def write(self, path: str, text: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".env") as tmp:
            tmp.write(text)
            tmp.flush()
            self.engine.docker("cp", tmp.name, f"{NAME}:{path}")
        self.sh(f"chmod 600 {path}")

    def as_airflow(self, *command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """A command with the units' environment file, as the units run (systemd parses the file)."""
        argv = ["systemd-run", "--quiet", "--wait", "--pipe", "--collect", f"--property=EnvironmentFile={ENV_FILE}",
                "--uid=airflow", f"--property=Environment=PATH={VENV}/bin:/usr/bin:/bin", *command]  # fmt: skip
        return self.engine.docker("exec", NAME, *argv, timeout=timeout, check=False)

    def unit(self, name: str, *props: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {name} " + " ".join(f"-p {p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def api(self, method: str, path: str, token: str, body: dict | None = None) -> dict:
        data = f"-d '{json.dumps(body)}'" if body is not None else ""
        out = self.sh(
            f"curl -sf -X {method} -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json'"
            f" {data} http://127.0.0.1:8080/api/v2{path}"
        ).stdout
        return json.loads(out) if out else {}

    def wait_until(self, predicate, timeout: float, what: str, poll: float = 3.0):
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
            time.sleep(poll)
        return result


@pytest.fixture(scope="module")
def machine() -> Iterator[tuple[Machine, dict[str, str]]]:
    with contextlib.ExitStack() as cleanup:
        try:
            engine = cleanup.enter_context(docker_engine(ROOT / ".etl" / "docker"))
        except EngineUnavailable as exc:
            pytest.skip(f"NO DOCKER ENGINE, the systemd units were NOT tested: {exc}")
        images.ensure_image(engine, images.SYSTEMD_HOST, "systemd")
        engine.docker("rm", "-f", NAME, check=False)
        systemd_as_pid_1 = ["--cap-add", "SYS_ADMIN", "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                            "--tmpfs", "/run", "--tmpfs", "/run/lock"]  # fmt: skip
        engine.docker(
            "run", "-d", "--name", NAME, *systemd_as_pid_1, "-v", f"{ROOT}:{PROJECT}:ro", images.SYSTEMD_HOST
        )  # fmt: skip
        cleanup.callback(engine.docker, "rm", "-f", NAME, check=False)
        m = Machine(engine)
        m.wait_until(
            lambda: m.sh("systemctl is-system-running", check=False).stdout.strip() in {"running", "degraded"},
            180,
            "systemd up",
        )
        secret = {k: secrets.token_urlsafe(12) for k in ("airflow_db", "etl_db", "redis", "admin", "api")}
        # the services beside Airflow, as their packages install them
        m.sh(
            'su postgres -c "psql -v ON_ERROR_STOP=1'
            f" -c \\\"create role airflow login password '{secret['airflow_db']}'\\\""
            " -c 'create database airflow owner airflow'"
            f" -c \\\"create role etl login password '{secret['etl_db']}'\\\""
            " -c 'create database warehouse owner etl'\""
        )
        m.sh(f"echo 'requirepass {secret['redis']}' >> /etc/redis/redis.conf && systemctl restart redis-server")
        m.sh(f"cp -r {PROJECT}/plugin /tmp/plugin && {VENV}/bin/pip install -q /tmp/plugin", timeout=900)
        yield m, secret


def test_install_sh_end_to_end_starts_every_unit(machine) -> None:
    m, secret = machine
    install = f"{PROJECT}/deploy/systemd/install.sh --user airflow --workers 2 --venv {VENV} --env-file {ENV_FILE}"
    first = m.sh(install, check=False)
    assert first.returncode == 1  # it wrote the env file with fresh keys, and stops to have it filled in
    assert f"created {ENV_FILE}: fill in its passwords and hosts" in first.stderr
    env = m.sh(f"cat {ENV_FILE}").stdout
    assert "AIRFLOW__CORE__FERNET_KEY=\n" not in env  # generated
    m.write(ENV_FILE, fill_in(env, secret))  # as the operator edits the file
    assert not re.search(r':PASSWORD@|"PASSWORD"|PASSWORD=\n', m.sh(f"cat {ENV_FILE}").stdout)  # all filled in

    second = m.sh(install, timeout=1200)
    assert "started:" in second.stdout
    m.wait_until(
        lambda: all(m.unit(u, "ActiveState")["ActiveState"] == "active" for u in UNITS), 600, "every unit active"
    )
    assert m.unit("etl-airflow-init.service", "Result")["Result"] == "success"

    def healthy() -> bool:  # the units' processes answer: the api-server, and the jobs' heartbeats
        out = m.sh("curl -sf http://127.0.0.1:8080/api/v2/monitor/health", check=False).stdout
        health = json.loads(out) if out else {}
        return bool(health) and all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    m.wait_until(healthy, 600, "the api-server answering, every job healthy")
    assert m.sh("systemctl is-enabled etl-airflow.target").stdout.strip() == "enabled"


def test_a_pipeline_runs_to_success_under_the_units(machine) -> None:
    m, secret = machine
    landing = m.as_airflow(f"{VENV}/bin/etl", "retail", "split", "--source",
                           f"{PROJECT}/dev/reliable_etl_dev/data/online_retail_sample.csv", "--landing",
                           "/var/lib/etl-airflow/etl/landing/retail")  # fmt: skip
    assert landing.returncode == 0, landing.stderr
    token_out = m.sh(
        "curl -sf -X POST -H 'Content-Type: application/json'"
        f' -d \'{{"username": "admin", "password": "{secret["admin"]}"}}\' http://127.0.0.1:8080/auth/token'
    ).stdout
    token = json.loads(token_out)["access_token"]
    dag_url = "http://127.0.0.1:8080/api/v2/dags/retail_daily"
    m.wait_until(
        lambda: m.sh(f"curl -sf -H 'Authorization: Bearer {token}' {dag_url}", check=False).returncode == 0,
        300,
        "retail_daily parsed",
    )
    m.api("PATCH", "/dags/retail_daily", token, {"is_paused": False})

    def done() -> bool:
        runs = m.api("GET", "/dags/retail_daily/dagRuns", token)["dag_runs"]
        return len(runs) == 3 and all(r["state"] == "success" for r in runs)

    m.wait_until(done, 900, "three days of retail, each run a success")
    status = m.as_airflow(f"{VENV}/bin/etl", "status")
    assert status.returncode == 0, status.stdout + status.stderr


def test_a_killed_service_is_restarted_by_systemd(machine) -> None:
    m, _ = machine
    before = m.unit("etl-airflow-scheduler.service", "NRestarts", "MainPID")
    m.sh("systemctl kill --signal=SIGKILL etl-airflow-scheduler.service")
    after = m.wait_until(
        lambda: (
            (u := m.unit("etl-airflow-scheduler.service", "NRestarts", "MainPID", "ActiveState"))["NRestarts"]
            == str(int(before["NRestarts"]) + 1)
            and u["ActiveState"] == "active"
            and u
        ),
        120,
        "the scheduler restarted by Restart=always",
    )
    assert after["MainPID"] != before["MainPID"]
