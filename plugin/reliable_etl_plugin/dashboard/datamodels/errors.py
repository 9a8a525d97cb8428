"""``GET /etl/errors``: the latest errors of ``ops.pipeline_logs``, with links to the Airflow task logs."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class LoggedError(BaseModel):
    id: int
    timestamp: dt.datetime
    level: str
    message: str
    pipeline_name: str | None = None
    run_id: str | None = None
    stage: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None
    log_url: str | None = Field(None, description="the task's log in the Airflow UI")


class ErrorsResponse(BaseModel):
    errors: list[LoggedError] = Field(description="newest first")
