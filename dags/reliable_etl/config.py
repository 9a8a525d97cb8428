"""Settings read once from the environment, typed, with documented defaults."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path


def resource(*parts: str) -> Path:
    """A file shipped inside the package (SQL, GraphQL, the CDNOW layout, the pools).

    Read from the copy of the code that is running: a bundle version's checkout, a wheel or an
    editable install each use their own.
    """
    return Path(str(files(__package__).joinpath(*parts)))


def default_home() -> Path:
    """Where state lives unless ``ETL_HOME`` says: beside Airflow's own, ``$AIRFLOW_HOME/etl``.

    Never inside the code: under a versioned bundle the code is a checkout per commit, which
    Airflow deletes when no run needs it any more.
    """
    return Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser() / "etl"


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

    home: Path  # state: landing and archive folders, the DuckDB mirror, backups
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
    retail_poke_seconds: float  # how often a missing landing file is looked for again
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
    files_drift_tolerance: float  # the share a table's row count may move from the previous night's
    files_drift_severity: str  # warning: loaded and reported; error: the file refused
    files_wait_hours: float
    # maintenance (health, cleanup, optimize, backup), the DuckDB mirror, the watchdog, alerts
    redis_conn_id: str
    redis_key_prefix: str  # every Redis key of this bundle starts with it
    health_cache_ttl_seconds: int
    health_required: tuple[str, ...]  # services whose failure makes the health check unhealthy
    health_disk_percent_max: float
    health_memory_percent_max: float
    analytics_path: Path  # the DuckDB mirror of gold
    analytics_schemas: tuple[str, ...]
    retention_logs_days: float
    retention_checkpoints_days: float  # superseded checkpoints only: the latest of each unit stays
    retention_health_days: float
    retention_rejects_days: float
    retention_transitions_days: float
    retention_checks_days: float  # superseded verdicts only: the latest of each check and unit stays
    retention_archive_days: float
    retention_redis_days: float
    backup_dir: Path
    backup_schemas: tuple[str, ...]
    backup_keep: int
    pg_bin_dir: Path | None  # pg_dump/pg_restore; default: the ones matching the server's version
    optimize_lock_timeout_ms: int
    optimize_index_bloat: float  # rebuild an index this many times larger than its estimate
    optimize_index_min_mb: float
    maintenance_retry_seconds: float  # a service down longer is reported, not waited for
    recover_keep_version: bool  # recoveries rerun on each run's own bundle version, not the latest
    watchdog_pipelines: tuple[str, ...]
    watchdog_grace_hours: float  # after a day's run is due, before the day counts as behind
    watchdog_sync_max_age_hours: float
    alert_after_failures: int  # consecutive failed health checks before an alert
    retail_deadline_hours: float  # Deadline Alert: hours after day D's data interval ends
    files_deadline_hours: float  # Deadline Alert: hours after the 02:00 UTC run of the night


JIRA_FIELDS = "summary,status,issuetype,priority,assignee,reporter,created,updated,resolutiondate,labels,project"


@cache
def settings() -> Settings:
    """Read the environment once per process."""
    home = Path(_env("ETL_HOME", str(default_home()))).resolve()
    return Settings(
        home=home,
        sql_dir=Path(_env("ETL_SQL_DIR", str(resource("sql")))),  # an override only: the package's own by default
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
        retail_poke_seconds=float(_env("ETL_RETAIL_POKE_SECONDS", "300")),
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
        files_relationships=Path(_env("ETL_FILES_RELATIONSHIPS", str(resource("files", "relationships.json")))),
        files_drop_dir=Path(_env("ETL_FILES_DROP_DIR", str(home / "landing" / "files"))),
        files_archive_dir=Path(_env("ETL_FILES_ARCHIVE_DIR", str(home / "archive" / "files"))),
        files_reject_threshold=float(_env("ETL_FILES_REJECT_THRESHOLD", "0.05")),
        files_keep_snapshots=int(_env("ETL_FILES_KEEP_SNAPSHOTS", "7")),
        files_drift_tolerance=float(_env("ETL_FILES_DRIFT_TOLERANCE", "0.5")),
        files_drift_severity=_env("ETL_FILES_DRIFT_SEVERITY", "warning"),
        files_wait_hours=float(_env("ETL_FILES_WAIT_HOURS", "4")),
        redis_conn_id=_env("ETL_REDIS_CONN_ID", "redis_default"),
        redis_key_prefix=_env("ETL_REDIS_KEY_PREFIX", "etl:"),
        health_cache_ttl_seconds=int(_env("ETL_HEALTH_CACHE_TTL_SECONDS", "3600")),
        health_required=_list("ETL_HEALTH_REQUIRED", "postgres,redis,duckdb"),
        health_disk_percent_max=float(_env("ETL_HEALTH_DISK_PERCENT_MAX", "90")),
        health_memory_percent_max=float(_env("ETL_HEALTH_MEMORY_PERCENT_MAX", "95")),
        analytics_path=Path(_env("ETL_ANALYTICS_PATH", str(home / "analytics.duckdb"))),
        analytics_schemas=_list("ETL_ANALYTICS_SCHEMAS", "gold"),
        retention_logs_days=float(_env("ETL_RETENTION_LOGS_DAYS", "30")),
        retention_checkpoints_days=float(_env("ETL_RETENTION_CHECKPOINTS_DAYS", "90")),
        retention_health_days=float(_env("ETL_RETENTION_HEALTH_DAYS", "14")),
        retention_rejects_days=float(_env("ETL_RETENTION_REJECTS_DAYS", "90")),
        retention_transitions_days=float(_env("ETL_RETENTION_TRANSITIONS_DAYS", "90")),
        retention_checks_days=float(_env("ETL_RETENTION_CHECKS_DAYS", "90")),
        retention_archive_days=float(_env("ETL_RETENTION_ARCHIVE_DAYS", "30")),
        retention_redis_days=float(_env("ETL_RETENTION_REDIS_DAYS", "7")),
        backup_dir=Path(_env("ETL_BACKUP_DIR", str(home / "backups"))),
        backup_schemas=_list("ETL_BACKUP_SCHEMAS", "ops,gold"),
        backup_keep=int(_env("ETL_BACKUP_KEEP", "7")),
        pg_bin_dir=Path(_env("ETL_PG_BIN_DIR", "")) if _env("ETL_PG_BIN_DIR", "") else None,
        optimize_lock_timeout_ms=int(_env("ETL_OPTIMIZE_LOCK_TIMEOUT_MS", "5000")),
        optimize_index_bloat=float(_env("ETL_OPTIMIZE_INDEX_BLOAT", "2.0")),
        optimize_index_min_mb=float(_env("ETL_OPTIMIZE_INDEX_MIN_MB", "8")),
        maintenance_retry_seconds=float(_env("ETL_MAINTENANCE_RETRY_SECONDS", "30")),
        recover_keep_version=_env("ETL_RECOVER_KEEP_VERSION", "0").lower() in {"1", "true", "yes"},
        watchdog_pipelines=_list("ETL_WATCHDOG_PIPELINES", "retail,sync,files"),
        watchdog_grace_hours=float(_env("ETL_WATCHDOG_GRACE_HOURS", "8")),
        watchdog_sync_max_age_hours=float(_env("ETL_WATCHDOG_SYNC_MAX_AGE_HOURS", "3")),
        alert_after_failures=int(_env("ETL_ALERT_AFTER_FAILURES", "2")),
        retail_deadline_hours=float(_env("ETL_RETAIL_DEADLINE_HOURS", "8")),
        files_deadline_hours=float(_env("ETL_FILES_DEADLINE_HOURS", "6")),
    )
