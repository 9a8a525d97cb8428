"""The latest errors the pipelines logged, each linked to its Airflow task log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Query

from reliable_etl_plugin.dashboard.datamodels.errors import ErrorsResponse, LoggedError
from reliable_etl_plugin.dashboard.security import READ
from reliable_etl_plugin.dashboard.warehouse import ReaderDep

router = APIRouter(prefix="/errors", tags=["errors"], dependencies=READ)


def ui_root() -> str:
    """The UI's path prefix (``[api] base_url``'s path, usually empty)."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")


def task_log_url(row: dict) -> str | None:
    """``/dags/{dag}/runs/{run}/tasks/{task}[/mapped/{i}]?try_number=n``: the task instance's log page."""
    if not (row.get("dag_id") and row.get("run_id") and row.get("task_id")):
        return None
    dag_id, run_id, task_id = (quote(str(row[k]), safe="") for k in ("dag_id", "run_id", "task_id"))
    url = f"{ui_root()}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}"
    if row.get("map_index") is not None and row["map_index"] >= 0:
        url += f"/mapped/{row['map_index']}"
    if row.get("try_number"):
        url += "?" + urlencode({"try_number": row["try_number"]})
    return url


@router.get("", response_model=ErrorsResponse, summary="The latest errors of ops.pipeline_logs")
def get_errors(reader: ReaderDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ErrorsResponse:
    rows = reader.rows("select_recent_errors", {"batch_size": limit})
    return ErrorsResponse(errors=[LoggedError(**row, log_url=task_log_url(row)) for row in rows])
