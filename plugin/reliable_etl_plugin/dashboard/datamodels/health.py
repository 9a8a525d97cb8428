"""``GET /etl/health`` and ``GET /etl/health/history``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

Level = Literal["healthy", "degraded", "unhealthy"]


class RunFigures(BaseModel):
    """What a grade is computed from: the latest finished runs."""

    runs: int = Field(description="finished runs considered (the last 10 of each pipeline)")
    failed_runs: int
    failed_share: float = Field(description="failed runs / runs")
    avg_error_rate: float = Field(description="average of the runs' rejected / records_in")
    avg_duration_s: float
    avg_records_in: float


class PipelineHealth(BaseModel):
    pipeline: str
    status: Level
    message: str
    metrics: RunFigures
    last_run_id: str | None = None
    last_run_status: str | None = None
    last_run_at: dt.datetime | None = None


class WatchdogPipeline(BaseModel):
    status: str = Field(description="healthy, unhealthy, unknown or error")
    last_data_date: str | None = None
    days_behind: int | None = None
    action: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class WatchdogResult(BaseModel):
    """The latest freshness watchdog run (``etl_health``)."""

    status: str
    finished_at: dt.datetime
    run_id: str | None = None
    pipelines: dict[str, WatchdogPipeline] = Field(default_factory=dict)


class MaintenanceResult(BaseModel):
    """The latest run of one maintenance job, its result in the job's own shape."""

    job: str
    status: str
    ok: bool = Field(description="success, healthy or skipped")
    run_id: str | None = None
    finished_at: dt.datetime
    duration_ms: int | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class FiringAlert(BaseModel):
    alert_key: str
    first_failed_at: dt.datetime | None = None
    fired_at: dt.datetime | None = None
    consecutive_failures: int
    last_message: str | None = None


class HealthResponse(BaseModel):
    """Overall and per pipeline: healthy < 20% failed runs and < 10% error rate, degraded up to 50% / 20%."""

    status: Level
    message: str
    metrics: RunFigures
    pipelines: list[PipelineHealth]
    watchdog: WatchdogResult | None = None
    maintenance: list[MaintenanceResult] = Field(default_factory=list)
    alerts: list[FiringAlert] = Field(default_factory=list)
    checked_at: dt.datetime


class HistoryPoint(BaseModel):
    """One finished run, and the grade of the window of runs ending with it."""

    run_id: str
    started_at: dt.datetime
    status: str
    error_rate: float
    runs: int = Field(description="runs in the window (up to 10)")
    failed_share: float
    avg_error_rate: float
    level: Level


class PipelineHistory(BaseModel):
    pipeline: str
    points: list[HistoryPoint] = Field(description="oldest first")


class HistoryResponse(BaseModel):
    window: int
    thresholds: dict[str, tuple[float, float]] = Field(description="(healthy below, unhealthy above)")
    pipelines: list[PipelineHistory]
