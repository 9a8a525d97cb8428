"""Health overall and per pipeline, with the latest watchdog and maintenance results; its history."""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Any

from fastapi import APIRouter

from reliable_etl_plugin import grading
from reliable_etl_plugin.dashboard.datamodels.health import (
    FiringAlert,
    HealthResponse,
    HistoryPoint,
    HistoryResponse,
    MaintenanceResult,
    PipelineHealth,
    PipelineHistory,
    RunFigures,
    WatchdogPipeline,
    WatchdogResult,
)
from reliable_etl_plugin.dashboard.security import READ
from reliable_etl_plugin.dashboard.warehouse import Reader, ReaderDep

router = APIRouter(prefix="/health", tags=["health"], dependencies=READ)

WATCHDOG = "watchdog"
HEALTH_CHECK = "health_check"
OK_STATUSES = {"success", "healthy", "skipped"}
HISTORY_POINTS = 50


def figures(h: grading.Health) -> RunFigures:
    return RunFigures(
        runs=h.runs,
        failed_runs=round(h.failed_share * h.runs),
        failed_share=h.failed_share,
        avg_error_rate=h.avg_error_rate,
        avg_duration_s=h.avg_duration_s,
        avg_records_in=h.avg_records,
    )


def recent_runs(reader: Reader) -> dict[str, list[dict[str, Any]]]:
    """``{pipeline: its last WINDOW finished runs, newest first}``."""
    rows = reader.rows("select_recent_runs", {"batch_size": grading.WINDOW})
    return {name: list(runs) for name, runs in groupby(rows, key=lambda r: r["pipeline_name"])}


def _watchdog(row: dict[str, Any] | None) -> WatchdogResult | None:
    if row is None:
        return None
    result = row["result"] or {}
    pipelines = {
        name: WatchdogPipeline(**{k: v for k, v in item.items() if k in WatchdogPipeline.model_fields})
        for name, item in (result.get("pipelines") or {}).items()
        if isinstance(item, dict)
    }
    return WatchdogResult(
        status=result.get("status") or row["status"],
        finished_at=row["finished_at"],
        run_id=row["run_id"],
        pipelines=pipelines,
    )


def _maintenance(row: dict[str, Any]) -> MaintenanceResult:
    return MaintenanceResult(
        job=row["job"],
        status=row["status"],
        ok=row["status"] in OK_STATUSES,
        run_id=row["run_id"],
        finished_at=row["finished_at"],
        duration_ms=row["duration_ms"],
        result=row["result"] if isinstance(row["result"], dict) else {"value": row["result"]},
    )


def build_health(reader: Reader) -> HealthResponse:
    """The health answer (also what the Prometheus exposition reports)."""
    runs = recent_runs(reader)
    last = {r["pipeline_name"]: r for r in reader.rows("select_last_runs")}
    pipelines = []
    for name in sorted(set(runs) | set(last)):
        h = grading.health(runs.get(name, []))
        latest = last.get(name) or {}
        pipelines.append(
            PipelineHealth(
                pipeline=name,
                status=h.level,
                message=grading.describe(h),
                metrics=figures(h),
                last_run_id=latest.get("run_id"),
                last_run_status=latest.get("status"),
                last_run_at=latest.get("started_at"),
            )
        )
    maintenance_rows = reader.rows("select_maintenance_runs")
    watchdog = _watchdog(next((r for r in maintenance_rows if r["job"] == WATCHDOG), None))
    maintenance = [_maintenance(r) for r in maintenance_rows if r["job"] != WATCHDOG]
    alerts = [FiringAlert(**row) for row in reader.rows("select_firing_alerts")]

    overall = grading.health([run for pipeline_runs in runs.values() for run in pipeline_runs])
    status = grading.worst([p.status for p in pipelines])
    problems = [f"{p.pipeline} {p.message}" for p in pipelines if p.status != "healthy"]
    if watchdog and watchdog.status in {"unhealthy", "error"}:
        late = [name for name, p in watchdog.pipelines.items() if p.status in {"unhealthy", "error"}]
        problems.append(f"watchdog {watchdog.status}: {', '.join(late) or 'see its result'}")
        status = grading.worst([status, "degraded"])
    check = next((m for m in maintenance if m.job == HEALTH_CHECK), None)
    if check and not check.ok:
        errors = check.result.get("errors") or []
        problems.append(f"health check {check.status}" + (f": {'; '.join(map(str, errors))}" if errors else ""))
        status = grading.worst([status, "degraded"])
    if alerts:
        problems.append(f"{len(alerts)} alert(s) firing: {', '.join(a.alert_key for a in alerts)}")
    if problems:
        message = f"{status}: " + "; ".join(problems)
    elif pipelines:
        message = f"healthy: {len(pipelines)} pipelines, {overall.runs} recent runs, none degraded"
    else:
        message = "healthy: no pipeline has run yet"
    return HealthResponse(
        status=status,
        message=message,
        metrics=figures(overall),
        pipelines=pipelines,
        watchdog=watchdog,
        maintenance=maintenance,
        alerts=alerts,
        checked_at=dt.datetime.now(dt.UTC),
    )


@router.get("", response_model=HealthResponse, summary="Health overall and per pipeline")
def get_health(reader: ReaderDep) -> HealthResponse:
    return build_health(reader)


@router.get("/history", response_model=HistoryResponse, summary="Each pipeline's grade over its latest runs")
def get_health_history(reader: ReaderDep) -> HistoryResponse:
    rows = reader.rows("select_health_history", {"batch_size": grading.WINDOW, "points": HISTORY_POINTS})
    pipelines = [
        PipelineHistory(
            pipeline=name,
            points=[
                HistoryPoint(
                    **{k: row[k] for k in HistoryPoint.model_fields if k in row},
                    level=grading.point_level(row["failed_share"], row["avg_error_rate"]),
                )
                for row in points
            ],
        )
        for name, points in groupby(rows, key=lambda r: r["pipeline_name"])
    ]
    return HistoryResponse(window=grading.WINDOW, thresholds=grading.THRESHOLDS, pipelines=pipelines)
