"""``etl status``: the state of a running stack at a glance, as the seed's ``manage.sh status`` gave it.

- **services**: the Airflow api-server and what it reports of the metadata database,
  scheduler, dag-processor and triggerer (status, last heartbeat); the Celery workers that
  answer a ping over the broker (CeleryExecutor only); the warehouse;
- **pipelines**: the last run of each pipeline in ``ops.pipeline_runs``, and its last 24 hours;
- **maintenance**: the latest result of each job in ``ops.maintenance_runs``, the watchdog's
  per-pipeline health first;
- **logs**: where this kind of deployment keeps them (``ETL_DEPLOYMENT``: ``docker-compose``,
  ``systemd``, or ``local`` for ``make up``).

Read-only: it creates nothing. A service that is down is a line of the report, not an
error. Exit code 0 when every service is up and the watchdog's latest result is not
unhealthy, else 1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from typing import Any

from reliable_etl.maintenance.services import describe

DEPLOYMENTS = ("docker-compose", "systemd", "local")
COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
AIRFLOW_UNITS = ("api-server", "scheduler", "dag-processor", "triggerer")
PING_TIMEOUT_S = 2.0


@dataclass
class Service:
    name: str
    status: str  # up | down | unknown | n/a
    detail: str = ""

    @property
    def down(self) -> bool:
        return self.status == "down"


@dataclass
class StackStatus:
    services: list[Service] = field(default_factory=list)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    maintenance: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def watchdog(self) -> dict[str, Any] | None:
        return next((m for m in self.maintenance if m["job"] == "watchdog"), None)

    @property
    def ok(self) -> bool:
        unhealthy = (self.watchdog or {}).get("status") in {"unhealthy", "error"}
        return not any(s.down for s in self.services) and not unhealthy

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "services": [vars(s) for s in self.services],
            "pipelines": self.pipelines,
            "maintenance": self.maintenance,
            "logs": self.logs,
            "notes": self.notes,
        }

    def render(self) -> str:
        lines = ["services"]
        width = max((len(s.name) for s in self.services), default=0)
        lines += [f"  {s.name:<{width}}  {s.status:<7}  {s.detail}".rstrip() for s in self.services]
        lines.append("pipelines (ops.pipeline_runs: the last run; the last 24 h)")
        for p in self.pipelines:
            ended = _when(p["ended_at"]) if p["ended_at"] else "still running"
            line = (
                f"  {p['pipeline_name']:<14} {p['status']:<8} {p['run_id']}  started {_when(p['started_at'])},"
                f" {ended}; {p['records_in']:,} in, {p['records_out']:,} out, {p['records_rejected']:,} rejected;"
                f" 24 h: {p['succeeded_24h']} ok, {p['failed_24h']} failed"
            )
            lines.append(line + (f"\n      error: {p['error']}" if p["error"] else ""))
        if not self.pipelines:
            lines.append("  none recorded")
        lines.append("maintenance (ops.maintenance_runs: the latest result of each job)")
        for m in self.maintenance:
            lines.append(f"  {m['job']:<22} {m['status']:<10} {_when(m['finished_at'])}")
            if m["job"] == "watchdog":
                for name, health in (m["result"].get("pipelines") or {}).items():
                    behind = health.get("days_behind")
                    lines.append(
                        f"      {name:<18} {health.get('status', '?'):<10}"
                        f" last data {health.get('last_data_date') or '-'},"
                        f" {'?' if behind is None else behind} days behind, action {health.get('action', '-')}"
                    )
        if not self.maintenance:
            lines.append("  none recorded (the maintenance DAGs have not run yet)")
        lines.append("logs")
        lines += [f"  {what:<14} {where}" for what, where in self.logs.items()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _when(value: Any) -> str:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return f"{value:%Y-%m-%d %H:%M:%S %Z}".strip() if isinstance(value, dt.datetime) else str(value)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in row.items()}


# --- services ----------------------------------------------------------------------------------


def airflow_services(api=None) -> list[Service]:
    """The api-server (``/api/v2/version``) and the components its health endpoint reports."""
    import httpx

    from reliable_etl_plugin.recovery import AirflowApi, AirflowApiError

    api = api or AirflowApi.from_connection()
    try:
        version = api.request("GET", "/version")
        health = api.health()
    except (httpx.HTTPError, AirflowApiError, RuntimeError) as exc:
        return [
            Service("api-server", "down", f"{api.base_url}: {describe(exc)}"),
            *(Service(name, "unknown", "the api-server does not answer") for name in COMPONENTS),
        ]
    services = [Service("api-server", "up", f"{api.base_url}, Airflow {version.get('version')}")]
    for name in COMPONENTS:
        part = health.get(name) or {}
        heartbeat = next((v for k, v in part.items() if k.startswith("latest") and v), None)
        detail = f"last heartbeat {_when(heartbeat)}" if heartbeat else ""
        services.append(Service(name, "up" if part.get("status") == "healthy" else "down", detail))
    return services


def celery_workers(timeout: float = PING_TIMEOUT_S) -> Service:
    """The Celery workers answering a ping, through the broker of Airflow's configuration."""
    from airflow.configuration import conf

    executor = conf.get("core", "executor")
    if "CeleryExecutor" not in executor:
        return Service("celery workers", "n/a", f"executor {executor}: tasks run in the scheduler")
    try:
        from airflow.providers.celery.executors.celery_executor import app

        replies = app.control.ping(timeout=timeout)
    except Exception as exc:  # the broker is down or misconfigured: a value of the report
        return Service("celery workers", "down", f"the broker does not answer: {describe(exc)}")
    names = sorted(node for reply in replies for node in reply)
    if not names:
        return Service("celery workers", "down", f"none answered a ping within {timeout:g} s")
    return Service("celery workers", "up", f"{len(names)}: {', '.join(names)}")


def _warehouse_rows(status: StackStatus) -> None:
    import psycopg
    from psycopg.rows import dict_row

    from reliable_etl import db

    try:
        with db.connect(autocommit=True, application_name="etl status") as conn:
            version = conn.execute("show server_version").fetchone()[0]
            status.services.append(Service("warehouse", "up", f"{db.describe_warehouse()}, PostgreSQL {version}"))
            with conn.cursor(row_factory=dict_row) as cur:
                for sql_name, target in (
                    ("status/select_last_runs", status.pipelines),
                    ("maintenance/select_latest_runs", status.maintenance),
                ):
                    try:
                        with conn.transaction():
                            target.extend(_jsonable(r) for r in db.run_sql(cur, sql_name).fetchall())
                    except psycopg.errors.UndefinedTable:
                        status.notes.append(f"{sql_name}: the ops schema is not there yet (`etl init`)")
    except Exception as exc:
        from reliable_etl.maintenance.services import service_down

        if not service_down(exc):
            raise
        status.services.append(Service("warehouse", "down", describe(exc)))


# --- logs --------------------------------------------------------------------------------------


def log_locations(deployment: str) -> dict[str, str]:
    """Where the components', the tasks' and the pipelines' logs are, for this deployment."""
    from airflow.configuration import AIRFLOW_HOME, conf

    tasks = conf.get("logging", "base_log_folder")
    if deployment == "docker-compose":
        components = "docker compose logs -f airflow-apiserver airflow-scheduler airflow-dag-processor" + (
            " airflow-triggerer airflow-worker"
        )
        tasks = f"{tasks} in the service containers (volume airflow-logs)"
    elif deployment == "systemd":
        components = "journalctl -f -u 'etl-airflow-*'"
    else:
        components = f"{AIRFLOW_HOME}/logs/<component>.log ({', '.join(AIRFLOW_UNITS)}, worker-<name>)"
    return {
        "components": components,
        "tasks": tasks,
        "pipelines": "ops.pipeline_logs in the warehouse (structured JSON, one row per record)",
    }


def deployment() -> str:
    value = os.environ.get("ETL_DEPLOYMENT") or "local"
    if value not in DEPLOYMENTS:
        raise ValueError(f"ETL_DEPLOYMENT={value!r}: expected one of {', '.join(DEPLOYMENTS)}")
    return value


def stack_status(*, api=None, ping_timeout: float = PING_TIMEOUT_S) -> StackStatus:
    """Everything ``etl status`` shows; nothing raises for a service that is down."""
    kind = deployment()
    status = StackStatus(services=airflow_services(api))
    status.services.append(celery_workers(ping_timeout))
    _warehouse_rows(status)
    status.logs = log_locations(kind)
    status.notes.insert(0, f"deployment: {kind} (ETL_DEPLOYMENT)")
    return status


def to_json(status: StackStatus) -> str:
    return json.dumps(status.as_dict(), indent=2, default=str)
