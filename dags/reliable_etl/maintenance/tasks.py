"""Glue between the maintenance DAGs' tasks and the jobs: run, keep the result, alert, return the dict.

``run_job(name, run_id=...)`` runs one job, keeps its result in ``ops.maintenance_runs`` (when
the warehouse is up), feeds the alert conditions, and returns the result dict (the task's
XCom). A service that is down is logged as a WARNING and the task succeeds with the partial
result; an unexpected error is an ERROR: it is alerted (``job:<name>``) and fails the task.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from reliable_etl.config import settings
from reliable_etl.maintenance import alerts, services
from reliable_etl.ops.logs import flush_logs

# job name -> the DAG that runs it (the name notifications carry)
DAGS = {
    "health_check": "etl_maintenance_health",
    "cleanup_old_data": "etl_maintenance_daily",
    "backup_critical_data": "etl_maintenance_daily",
    "optimize_database": "etl_maintenance_weekly",
    "analytics_mirror": "etl_analytics_mirror",
    "watchdog": "etl_health",
}


def _call(name: str, run_id: str | None, progress: Callable[[str], None] | None):
    if name == "health_check":
        from reliable_etl.maintenance.health import health_check

        return health_check(run_id=run_id, progress=progress)
    if name == "cleanup_old_data":
        from reliable_etl.maintenance.cleanup import cleanup_old_data

        return cleanup_old_data(run_id=run_id, progress=progress)
    if name == "optimize_database":
        from reliable_etl.maintenance.optimize import optimize_database

        return optimize_database(run_id=run_id, progress=progress)
    if name == "backup_critical_data":
        from reliable_etl.maintenance.backup import backup_critical_data

        return backup_critical_data(run_id=run_id, progress=progress)
    if name == "analytics_mirror":
        from reliable_etl.maintenance.analytics import mirror_gold

        return mirror_gold(run_id=run_id)
    if name == "watchdog":
        from reliable_etl.maintenance.watchdog import watchdog

        return watchdog(run_id=run_id, repair=True)
    raise ValueError(f"unknown maintenance job {name!r}; expected one of {sorted(DAGS)}")


def _warehouse_up(data: dict) -> bool:
    return data.get("postgres", data.get("postgres_available", True)) is not False


def _alert_health(result, run_id: str | None, log) -> None:
    problems = result.problems()
    checks = []
    for component in ("postgres", "redis", "duckdb", "disk", "memory"):
        problem = problems.get(component)
        errors = [e for e in result.errors if e.startswith(f"{component}:")]
        summary = f"{component} {problem or 'healthy'}" + (f": {errors[0]}" if errors and problem else "")
        checks.append(
            alerts.Check(f"health:{component}", problem is not None, summary, after=settings().alert_after_failures)
        )
    alerts.evaluate_all(checks, pipeline=DAGS["health_check"], run_id=run_id, log=log)


def _alert_watchdog(report, run_id: str | None, log) -> None:
    checks = []
    for dag_id, health in report.pipelines.items():
        summary = (
            f"{dag_id} {health.status}: last data {health.last_data_date or '-'}, "
            f"{health.days_behind if health.days_behind is not None else '?'} days behind, action {health.action}"
        )
        if restated := health.details.get("restated_days"):
            summary += f"; {health.details['restated_count']} restated day(s): {', '.join(restated)}"
        items = [{"name": dag_id, "status": health.status, "error": health.details.get("error")}]
        checks.append(alerts.Check(f"watchdog:{dag_id}", health.status in {"unhealthy", "error"}, summary, items))
    alerts.evaluate_all(checks, pipeline=DAGS["watchdog"], run_id=run_id, log=log)


def ensure_schema(log) -> None:
    """Apply new schema scripts if the warehouse answers now; a warehouse that is down is the job's to report."""
    from reliable_etl.ops.schema import init_schema, schema_is_current

    try:
        if not schema_is_current():
            init_schema(log=log)
    except Exception as exc:
        if not services.service_down(exc):
            raise
        log.warning("the warehouse is unavailable (%s): the job reports what it can", services.describe(exc))


def run_job(name: str, *, run_id: str | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Run one maintenance job as a task does; returns its result dict."""
    log = services.logger(name, run_id)
    started, started_at = time.monotonic(), dt.datetime.now(dt.UTC)
    try:
        ensure_schema(log)
        result = _call(name, run_id, progress)
    except Exception as exc:
        log.error("%s failed: %s", name, services.describe(exc))
        alerts.evaluate(
            f"job:{name}", True, f"{name} failed: {services.describe(exc)}", pipeline=DAGS[name], run_id=run_id, log=log
        )
        flush_logs()
        raise
    data = result.as_dict()
    status = data.get("status", "success")
    if _warehouse_up(data):
        services.record_result(
            name, data, status=status, run_id=run_id, started=started, started_at=started_at, log=log
        )
    if name == "health_check":
        _alert_health(result, run_id, log)
    elif name == "watchdog":
        _alert_watchdog(result, run_id, log)
    else:
        failing = status not in {"success", "skipped"}
        errors = "; ".join(data.get("errors") or [])
        alerts.evaluate(
            f"job:{name}",
            failing,
            f"{name} {status}" + (f": {errors}" if errors else ""),
            pipeline=DAGS[name],
            run_id=run_id,
            log=log,
        )
    if status not in {"success", "healthy", "skipped"}:
        log.warning("%s finished %s: %s", name, status, "; ".join(data.get("errors") or []) or "see its result")
    flush_logs()
    return data
