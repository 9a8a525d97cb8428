"""``GET /etl/dags``, ``POST /etl/trigger/{dag_id}`` and ``POST /etl/recover/{dag_id}``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class DagState(BaseModel):
    dag_id: str
    is_paused: bool
    blocked: bool = Field(description="a failed (or stuck queued) run holds later active runs back")
    failed_run_id: str | None = Field(None, description="the run `recover` starts from")
    waiting_runs: list[str] = Field(default_factory=list, description="later runs held back")
    can_run: bool = Field(description="the user may trigger and recover it")


class DagsResponse(BaseModel):
    user: str
    dags: list[DagState]


class TriggerBody(BaseModel):
    conf: dict[str, Any] = Field(default_factory=dict, description="the run's Params")
    note: str | None = None


class TriggerResponse(BaseModel):
    dag_id: str
    run_id: str
    state: str
    run_after: dt.datetime | None = None
    triggered_by: str


class RecoverResponse(BaseModel):
    """What `etl recover` did (or, dry run, would do)."""

    dag_id: str
    dry_run: bool
    changed: bool
    failed_run: str | None = None
    cleared: list[str]
    requeued: list[str]
    latest_version: bool
    bundle_version: str | None = Field(
        None, description="the bundle version the recovered runs run on (None: an unversioned bundle)"
    )
    versions: dict[str, str | None] = Field(description="the version each recovered run was on before")
    summary: str = Field(description="`etl recover`'s report, as text")
    notes: list[str]
    recovered_by: str
