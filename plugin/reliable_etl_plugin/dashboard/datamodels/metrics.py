"""``GET /etl/metrics``: per pipeline the last 10 runs and their averages."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from reliable_etl_plugin.dashboard.datamodels.health import Level


class Run(BaseModel):
    run_id: str
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    duration_ms: int | None = None
    records_in: int
    records_out: int
    records_rejected: int
    error_rate: float
    error: str | None = None
    lost: bool = Field(description="closed as 'process lost' by the next holder of its unit's lock")
    dag_id: str | None = None


class Averages(BaseModel):
    runs: int
    duration_s: float
    records_in: float
    records_out: float
    records_rejected: float
    error_rate: float
    failed_share: float


class PipelineMetrics(BaseModel):
    pipeline: str
    status: Level
    averages: Averages
    runs: list[Run] = Field(description="newest first")


class MetricsResponse(BaseModel):
    window: int
    pipelines: list[PipelineMetrics]
