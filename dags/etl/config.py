"""Settings read once from the environment, typed, with documented defaults."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _list(name: str, default: str = "") -> tuple[str, ...]:
    return tuple(item.strip() for item in _env(name, default).split(",") if item.strip())


def _date(name: str, default: str | None) -> dt.date | None:
    value = _env(name, default or "")
    return dt.date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Settings:
    """Every knob of the bundle; see `.env.example` for the variable names."""

    home: Path  # embedded warehouse data, demo state
    sql_dir: Path
    warehouse_conn_id: str
    statement_timeout_ms: int
    lock_timeout_ms: int
    retry_attempts: int
    retry_max_seconds: float
    retry_wait_min: float
    retry_wait_max: float
    log_to_db: bool
    log_batch_size: int
    retail_landing_dir: Path
    retail_reject_threshold: float
    retail_start_date: dt.date
    retail_end_date: dt.date | None
    retail_file_wait_hours: float
    task_retries: int
    # Jira and GitHub syncs
    github_conn_id: str
    jira_conn_id: str
    github_repos: tuple[str, ...]  # OWNER/NAME
    jira_projects: tuple[str, ...]  # project keys
    jira_jql: str  # an extra JQL restriction ANDed to every project's query
    jira_fields: tuple[str, ...]
    sync_page_size: int
    sync_http_timeout: float
    sync_http_attempts: int
    sync_max_sleep_seconds: float  # longer waits save state and free the worker
    sync_concurrency: int
    sync_sweep_hours: float
    github_rate_reserve: int  # stop before the hourly points run out
    jira_overlap_seconds: float
    jira_safety_lag_seconds: float
    # nightly fixed-width files
    files_relationships: Path
    files_drop_dir: Path
    files_archive_dir: Path
    files_reject_threshold: float
    files_keep_snapshots: int
    files_wait_hours: float


JIRA_FIELDS = "summary,status,issuetype,priority,assignee,reporter,created,updated,resolutiondate,labels,project"


@cache
def settings() -> Settings:
    """Read the environment once per process."""
    home = Path(_env("ETL_HOME", str(PROJECT_ROOT / ".etl"))).resolve()
    return Settings(
        home=home,
        sql_dir=Path(_env("ETL_SQL_DIR", str(PROJECT_ROOT / "include" / "sql"))),
        warehouse_conn_id=_env("ETL_WAREHOUSE_CONN_ID", "warehouse"),
        statement_timeout_ms=int(_env("ETL_STATEMENT_TIMEOUT_MS", "600000")),
        lock_timeout_ms=int(_env("ETL_LOCK_TIMEOUT_MS", "30000")),
        retry_attempts=int(_env("ETL_RETRY_ATTEMPTS", "6")),
        retry_max_seconds=float(_env("ETL_RETRY_MAX_SECONDS", "300")),
        retry_wait_min=float(_env("ETL_RETRY_WAIT_MIN", "0.5")),
        retry_wait_max=float(_env("ETL_RETRY_WAIT_MAX", "30")),
        log_to_db=_env("ETL_LOG_TO_DB", "1") not in {"0", "false", "no"},
        log_batch_size=int(_env("ETL_LOG_BATCH_SIZE", "50")),
        retail_landing_dir=Path(_env("ETL_RETAIL_LANDING_DIR", str(home / "landing" / "retail"))),
        retail_reject_threshold=float(_env("ETL_RETAIL_REJECT_THRESHOLD", "0.05")),
        retail_start_date=_date("ETL_RETAIL_START_DATE", "2011-01-24"),  # type: ignore[arg-type]
        retail_end_date=_date("ETL_RETAIL_END_DATE", None),
        retail_file_wait_hours=float(_env("ETL_RETAIL_FILE_WAIT_HOURS", "6")),
        task_retries=int(_env("ETL_TASK_RETRIES", "3")),
        github_conn_id=_env("ETL_GITHUB_CONN_ID", "github_default"),
        jira_conn_id=_env("ETL_JIRA_CONN_ID", "jira_default"),
        github_repos=_list("ETL_GITHUB_REPOS"),
        jira_projects=_list("ETL_JIRA_PROJECTS"),
        jira_jql=_env("ETL_JIRA_JQL", ""),
        jira_fields=_list("ETL_JIRA_FIELDS", JIRA_FIELDS),
        sync_page_size=int(_env("ETL_SYNC_PAGE_SIZE", "100")),
        sync_http_timeout=float(_env("ETL_SYNC_HTTP_TIMEOUT", "30")),
        sync_http_attempts=int(_env("ETL_SYNC_HTTP_ATTEMPTS", "5")),
        sync_max_sleep_seconds=float(_env("ETL_SYNC_MAX_SLEEP_SECONDS", "60")),
        sync_concurrency=int(_env("ETL_SYNC_CONCURRENCY", "4")),
        sync_sweep_hours=float(_env("ETL_SYNC_SWEEP_HOURS", "24")),
        github_rate_reserve=int(_env("ETL_GITHUB_RATE_RESERVE", "50")),
        jira_overlap_seconds=float(_env("ETL_JIRA_OVERLAP_SECONDS", "300")),
        jira_safety_lag_seconds=float(_env("ETL_JIRA_SAFETY_LAG_SECONDS", "60")),
        files_relationships=Path(
            _env("ETL_FILES_RELATIONSHIPS", str(PROJECT_ROOT / "include" / "files" / "relationships.json"))
        ),
        files_drop_dir=Path(_env("ETL_FILES_DROP_DIR", str(home / "landing" / "files"))),
        files_archive_dir=Path(_env("ETL_FILES_ARCHIVE_DIR", str(home / "archive" / "files"))),
        files_reject_threshold=float(_env("ETL_FILES_REJECT_THRESHOLD", "0.05")),
        files_keep_snapshots=int(_env("ETL_FILES_KEEP_SNAPSHOTS", "7")),
        files_wait_hours=float(_env("ETL_FILES_WAIT_HOURS", "4")),
    )
