"""cleanup_old_data: retention for the ops tables, the file archive and this bundle's Redis keys.

Each target has its own retention in days (``ETL_RETENTION_*``, see config):

- ``ops.pipeline_logs`` (logs), ``ops.rejected_rows`` (rejects), ``ops.sync_transitions``
  (transitions), health and watchdog results in ``ops.maintenance_runs`` (health);
- ``ops.pipeline_checkpoint`` (checkpoints): finished rows a newer row of the same unit and
  stage supersedes. The latest checkpoint of every unit stays, however old: it is the ledger
  of what was processed;
- ``ops.check_results`` (checks): verdicts a newer verdict of the same check on the same unit
  supersedes; the latest of each stays, however old;
- the file archive (``ETL_FILES_ARCHIVE_DIR/<YYYY-MM-DD>/``): whole dated directories;
- Redis: keys under ``ETL_REDIS_KEY_PREFIX`` that never expire and were not touched for the
  retention (keys with a TTL expire by themselves).

Rows go in batches of ``BATCH_SIZE``, each its own short transaction, so no lock is held long
and a crash loses nothing but the batch it was on. When the warehouse is down the job goes on
with the archive and Redis, and the other way round; the result says what was done.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.maintenance import services
from reliable_etl.maintenance.services import describe, service_down
from reliable_etl.ops.logs import PipelineLogger

JOB = "cleanup_old_data"
BATCH_SIZE = 5000
# target -> (SQL file, the setting holding its retention in days)
TABLES = {
    "pipeline_logs": ("maintenance/delete_old_pipeline_logs", "retention_logs_days"),
    "checkpoints": ("maintenance/delete_old_checkpoints", "retention_checkpoints_days"),
    "health_results": ("maintenance/delete_old_health_results", "retention_health_days"),
    "rejected_rows": ("maintenance/delete_old_rejected_rows", "retention_rejects_days"),
    "sync_transitions": ("maintenance/delete_old_sync_transitions", "retention_transitions_days"),
    "check_results": ("maintenance/delete_old_check_results", "retention_checks_days"),
}


@dataclass
class CleanupResult:
    """The seed's shape: ``{status, database_records_cleaned, redis_keys_cleaned, postgres_available,
    total_cleaned}``, plus the archive and a count per target."""

    status: str = "success"  # success | partial | failed
    database_records_cleaned: int = 0
    redis_keys_cleaned: int = 0
    archive_files_cleaned: int = 0
    postgres_available: bool = True
    redis_available: bool = True
    details: dict[str, int] = field(default_factory=dict)  # target -> rows / keys / files removed
    errors: list[str] = field(default_factory=list)

    @property
    def total_cleaned(self) -> int:
        return self.database_records_cleaned + self.redis_keys_cleaned + self.archive_files_cleaned

    def as_dict(self) -> dict:
        return {**asdict(self), "total_cleaned": self.total_cleaned}


def cutoff(days: float, now: dt.datetime | None = None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)


def _delete_batches(sql_file: str, before: dt.datetime, log: PipelineLogger, target: str) -> int:
    total = 0
    with db.connect(autocommit=True, application_name=f"etl {JOB}") as conn:
        while True:
            deleted = db.run_sql(conn, sql_file, {"cutoff": before, "batch_size": BATCH_SIZE}).rowcount
            total += deleted
            if deleted < BATCH_SIZE:
                return total
            log.info("cleanup: %s: %d rows deleted so far", target, total)


def clean_tables(result: CleanupResult, log: PipelineLogger, step: Callable[[str], None]) -> None:
    cfg = settings()
    for target, (sql_file, setting) in TABLES.items():
        step(target)
        try:
            deleted = services.retry_briefly(log, f"cleanup of {target}")(
                _delete_batches, sql_file, cutoff(getattr(cfg, setting)), log, target
            )
        except Exception as exc:
            if not service_down(exc):
                raise
            result.postgres_available = False
            result.errors.append(f"postgres: {target}: {describe(exc)}")
            log.warning("cleanup: the warehouse is unavailable, going on without it: %s", describe(exc))
            return
        result.details[target] = deleted
        result.database_records_cleaned += deleted
        log.info("cleanup: %s: %d rows older than %s days deleted", target, deleted, getattr(cfg, setting))


def clean_archive(result: CleanupResult, log: PipelineLogger, archive: Path | None = None) -> None:
    """Remove dated archive directories (``YYYY-MM-DD``) older than the retention."""
    archive = Path(archive or settings().files_archive_dir)
    oldest_kept = cutoff(settings().retention_archive_days).date()
    removed = 0
    if archive.is_dir():
        for entry in sorted(archive.iterdir()):
            try:
                day = dt.date.fromisoformat(entry.name)
            except ValueError:
                continue  # not ours
            if entry.is_dir() and day < oldest_kept:
                files = sum(1 for p in entry.rglob("*") if p.is_file())
                try:
                    shutil.rmtree(entry)
                except OSError as exc:
                    result.errors.append(f"archive: {entry}: {describe(exc)}")
                    continue
                removed += files
                log.info("cleanup: archive %s removed (%d files)", entry, files)
    result.details["file_archives"] = removed
    result.archive_files_cleaned = removed


def clean_redis(result: CleanupResult, log: PipelineLogger) -> None:
    """Delete this bundle's keys that never expire and were idle longer than the retention."""
    idle_limit = settings().retention_redis_days * 86400
    removed = 0
    try:
        client = services.redis_client()
        for key in client.scan_iter(match=services.redis_key("*"), count=500):
            if client.ttl(key) == -1 and (client.object("idletime", key) or 0) >= idle_limit:
                removed += client.delete(key)
    except Exception as exc:
        if not service_down(exc):
            raise
        result.redis_available = False
        result.errors.append(f"redis: {describe(exc)}")
        log.warning("cleanup: Redis is unavailable, going on without it: %s", describe(exc))
    result.details["redis_keys"] = removed
    result.redis_keys_cleaned = removed


def cleanup_old_data(
    *, run_id: str | None = None, log: PipelineLogger | None = None, progress: Callable[[str], None] | None = None
) -> CleanupResult:
    """Apply every retention; a service that is down is skipped and named in the result."""
    log = log or services.logger(JOB, run_id)
    step = progress or (lambda _name: None)
    result = CleanupResult()
    clean_tables(result, log, step)
    step("file_archives")
    clean_archive(result, log)
    step("redis")
    clean_redis(result, log)
    if result.errors:
        result.status = "partial" if result.postgres_available or result.redis_available else "failed"
    log.info(
        "cleanup: %s: %d rows, %d Redis keys, %d archived files removed",
        result.status,
        result.database_records_cleaned,
        result.redis_keys_cleaned,
        result.archive_files_cleaned,
        metadata=result.as_dict(),
    )
    return result
