"""``GET /etl/checkpoints``: processed months and units, sync jobs, file loads and snapshots."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class ProcessedMonth(BaseModel):
    pipeline_name: str
    month_key: str
    year: int
    month: int
    status: str = Field(description="in_progress, completed or failed")
    input_rows: int | None = None
    rows_written: int | None = None
    input_fingerprint: str | None = None
    error: str | None = None
    processed_at: dt.datetime
    updated_at: dt.datetime


class ProcessedUnit(BaseModel):
    pipeline_name: str
    unit_key: str
    unit_kind: str
    status: str
    input_rows: int | None = None
    rows_written: int | None = None
    input_fingerprint: str | None = None
    error: str | None = None
    processed_at: dt.datetime
    updated_at: dt.datetime


class SyncJob(BaseModel):
    """One repository or project: its state and the position of the pass under way."""

    service: str
    entity: str
    status: str
    needs_attention: bool
    mode: str | None = None
    phase: str | None = None
    cursor: str | None = Field(None, description="the page cursor the pass resumes from")
    keyset_ts: dt.datetime | None = Field(None, description="Jira: the keyset position")
    page_size: int | None = None
    pages: int
    items: int
    skipped: int
    warnings: int
    api_cost: int
    rate_remaining: int | None = None
    total_processed: int
    api_count: int | None = None
    db_count: int | None = None
    eta_seconds: float | None = None
    last_error: str | None = None
    next_retry_at: dt.datetime | None = None
    pass_started_at: dt.datetime | None = None
    last_sync_at: dt.datetime | None = None
    updated_at: dt.datetime


class SyncRecovery(BaseModel):
    service: str
    total_recoveries: int
    successful_recoveries: int
    avg_recovery_seconds: float | None = None
    entities_reconciled: int
    entities_consistent: int
    data_consistency: float | None = None


class FileLoad(BaseModel):
    id: int
    run_id: str
    file_name: str
    table_name: str
    status: str = Field(description="loaded, unchanged, refused or failed")
    records: int
    loaded: int
    rejected: int
    error_rate: float
    snapshot: str | None = Field(None, description="the previous contents, kept as this snapshot")
    error: str | None = None
    archived_to: str | None = None
    at: dt.datetime


class FileSnapshot(BaseModel):
    snapshot: str
    table_name: str
    taken_at: dt.datetime
    reason: str
    row_count: int
    rollback: str = Field(description="the command that restores it")


class CheckpointsResponse(BaseModel):
    processed_months: list[ProcessedMonth]
    processed_units: list[ProcessedUnit]
    sync_jobs: list[SyncJob]
    sync_recovery: list[SyncRecovery]
    file_loads: list[FileLoad] = Field(description="the latest, newest first")
    file_snapshots: list[FileSnapshot] = Field(description="newest first per table")
