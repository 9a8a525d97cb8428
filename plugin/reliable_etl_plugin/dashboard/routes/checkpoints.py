"""Where every pipeline stands: processed months and units, sync jobs, file loads and snapshots."""

from __future__ import annotations

import shlex

from fastapi import APIRouter

from reliable_etl_plugin.dashboard.datamodels.checkpoints import (
    CheckpointsResponse,
    FileLoad,
    FileSnapshot,
    ProcessedMonth,
    ProcessedUnit,
    SyncJob,
    SyncRecovery,
)
from reliable_etl_plugin.dashboard.security import READ
from reliable_etl_plugin.dashboard.warehouse import ReaderDep

router = APIRouter(prefix="/checkpoints", tags=["checkpoints"], dependencies=READ)

UNITS_SHOWN = 500
FILE_LOADS_SHOWN = 100


def rollback_command(table: str, snapshot: str) -> str:
    return f"etl files rollback --table {shlex.quote(table)} --to {shlex.quote(snapshot)}"


@router.get("", response_model=CheckpointsResponse, summary="Processed months, sync jobs, file loads and snapshots")
def get_checkpoints(reader: ReaderDep) -> CheckpointsResponse:
    return CheckpointsResponse(
        processed_months=[ProcessedMonth(**r) for r in reader.rows("select_processed_months")],
        processed_units=[
            ProcessedUnit(**r) for r in reader.rows("select_processed_units", {"batch_size": UNITS_SHOWN})
        ],
        sync_jobs=[SyncJob(**r) for r in reader.rows("select_sync_jobs")],
        sync_recovery=[SyncRecovery(**r) for r in reader.rows("select_sync_recovery")],
        file_loads=[FileLoad(**r) for r in reader.rows("select_file_loads", {"batch_size": FILE_LOADS_SHOWN})],
        file_snapshots=[
            FileSnapshot(**r, rollback=rollback_command(r["table_name"], r["snapshot"]))
            for r in reader.rows("select_file_snapshots")
        ],
    )
