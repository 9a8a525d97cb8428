"""Sync jobs: one row of ops.sync_jobs per entity (a repository, a project), and its state machine.

    NOT_STARTED -> PENDING -> RUNNING -> FINISHED -> PENDING (next pass) -> ...
                              RUNNING -> FAILED -> PENDING (recovery ready)
                              RUNNING -> PENDING (rate limited, until next_retry_at)
                              RUNNING | PENDING | FAILED -> PAUSED (by hand) -> PENDING

The database refuses every other change (trigger ``ops.sync_jobs_transition``) and logs
each legal one in ops.sync_transitions. An ``EntityRun`` works on one entity on one
connection holding the entity's session advisory lock: a job found RUNNING without a lock
holder lost its worker (a crash) and is failed, then recovered. Every page of data is
written with the job's checkpoint in ONE transaction (``EntityRun.commit``), so a crash
resumes from the exact page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

import psycopg
from psycopg.rows import dict_row

from reliable_etl import db, failpoints
from reliable_etl.errors import UnitBusyError
from reliable_etl.ops.logs import PipelineLogger, redact
from reliable_etl.sync.errors import IllegalTransitionError, JobPausedError


class Status(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    FINISHED = "FINISHED"
    PAUSED = "PAUSED"


PHASES = ("walk", "recheck", "sweep", "reconcile")


@dataclass(frozen=True)
class Job:
    """A row of ops.sync_jobs (see sql/sync/create_sync_schema.sql for the columns' meaning)."""

    service: str
    entity: str
    status: str = Status.NOT_STARTED
    status_reason: str | None = None
    needs_attention: bool = False
    run_id: str | None = None
    config_hash: str | None = None
    mode: str | None = None
    phase: str | None = None
    cursor: str | None = None
    page_size: int | None = None
    keyset_ts: dt.datetime | None = None
    keyset_ids: list[str] = field(default_factory=list)
    walk_lower: dt.datetime | None = None
    walk_upper: dt.datetime | None = None
    walk_top_ts: dt.datetime | None = None
    walk_top_id: str | None = None
    watermark_ts: dt.datetime | None = None
    watermark_id: str | None = None
    pages: int = 0
    items: int = 0
    skipped: int = 0
    warnings: int = 0
    api_cost: int = 0
    rate_remaining: int | None = None
    total_processed: int = 0
    api_count: int | None = None
    db_count: int | None = None
    reconciled_at: dt.datetime | None = None
    last_error: str | None = None
    next_retry_at: dt.datetime | None = None
    pass_started_at: dt.datetime | None = None
    last_sync_at: dt.datetime | None = None
    last_sweep_at: dt.datetime | None = None
    status_changed_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: dict) -> Job:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class EntityResult:
    """What one entity's run did: the summary an operator returns and the CLI prints."""

    service: str
    entity: str
    outcome: str  # finished | waiting | paused | skipped | failed
    status: str
    mode: str | None = None
    pages: int = 0
    items: int = 0
    skipped: int = 0
    warnings: int = 0
    api_cost: int = 0
    api_count: int | None = None
    db_count: int | None = None
    next_retry_at: dt.datetime | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return {**asdict(self), "next_retry_at": self.next_retry_at.isoformat() if self.next_retry_at else None}


def config_hash(**config: Any) -> str:
    """A stable hash of what a pass depends on (query text, fields, JQL): a change forces a full pass."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EntityRun:
    """One entity's pass (or the resumption of one), on a connection holding the entity's lock.

    with EntityRun("github", "acme/api", run_id=..., config_hash=..., full_refresh=False, log=log) as run:
        if run.start(default_page_size=100) is None:
            ...  # run.commit(write_rows, replace(run.job, cursor=..., pages=...))
    """

    def __init__(
        self,
        service: str,
        entity: str,
        *,
        run_id: str,
        config_hash: str,
        full_refresh: bool,
        log: PipelineLogger,
    ) -> None:
        self.service = service
        self.entity = entity
        self.run_id = run_id
        self.config_hash = config_hash
        self.full_refresh = full_refresh
        self.log = log
        self.lock_key = f"sync:{service}:{entity}"
        self.lost_run_id: str | None = None  # the run whose worker was found lost by ``start``
        self.conn: psycopg.Connection
        self.job: Job

    def __enter__(self) -> EntityRun:
        self.conn = db.connect(autocommit=True, application_name=f"etl sync {self.service} {self.entity}")
        try:
            if not db.try_session_lock(self.conn, self.lock_key):
                raise UnitBusyError(
                    f"{self.service} {self.entity} is being synced by {db.lock_holder(self.conn, self.lock_key)}"
                )
            db.run_sql(self.conn, "sync/insert_sync_job", {"service": self.service, "entity": self.entity})
            self.job = self._read()
        except BaseException:
            self.conn.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.conn.close()  # closing the session releases its advisory lock

    # -- reading and writing the job row ------------------------------------------------

    def _read(self) -> Job:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(db.load_sql("sync/select_sync_job"), {"service": self.service, "entity": self.entity})
            return Job.from_row(row.fetchone())  # type: ignore[arg-type]

    def _write(self, new: Job) -> None:
        """Store ``new`` if the row still has the status we last read; keep it as our copy."""
        params = {**asdict(new), "expected_status": self.job.status}
        try:
            row = db.run_sql(self.conn, "sync/update_sync_job", params).fetchone()
        except psycopg.errors.CheckViolation as exc:
            raise IllegalTransitionError(exc.diag.message_primary or str(exc)) from None
        if row is None:
            current = self._read()
            raise JobPausedError(f"{self.service} {self.entity} became {current.status} meanwhile: stopped")
        self.job = replace(new, updated_at=row[0], status_changed_at=row[1])

    def transition(self, status: Status, reason: str, **changes: Any) -> None:
        """Change the job's status (and any other columns), in its own transaction."""
        self.log.info("%s %s: %s -> %s (%s)", self.service, self.entity, self.job.status, status, reason)
        self._write(replace(self.job, status=status, status_reason=reason[:500], **changes))

    def commit(self, write: Callable[[psycopg.Connection], Any], checkpoint: Job, *, point: str = "page") -> None:
        """Run ``write`` (the page's upserts) and store ``checkpoint`` in ONE transaction.

        If the job was paused meanwhile, nothing of the page is committed (JobPausedError).
        """
        with self.conn.transaction():
            write(self.conn)
            failpoints.reach(f"{self.service}.{point}.upserted")
            self._write(checkpoint)
            failpoints.reach(f"{self.service}.{point}.checkpointed")
        failpoints.reach(f"{self.service}.{point}.committed")

    # -- the pass -------------------------------------------------------------------------

    def start(self, *, default_page_size: int) -> str | None:
        """Bring the job to RUNNING for this run, or say why it does not run now.

        Returns None to go on, else one of: "paused", "needs attention", "waiting" (rate
        limited until ``job.next_retry_at``), "finished" (already done in this run).
        """
        job = self.job
        if job.status == Status.PAUSED:
            return "paused"
        if job.status == Status.FAILED and job.needs_attention:
            return "needs attention"
        if job.status == Status.PENDING and job.next_retry_at and job.next_retry_at > utcnow():
            return "waiting"
        if job.status == Status.FINISHED and job.run_id == self.run_id:
            return "finished"
        if job.status == Status.RUNNING:  # we hold its lock, so nobody is running it: a lost worker
            since = f"{job.updated_at:%Y-%m-%d %H:%M:%S} UTC" if job.updated_at else "unknown"
            self.lost_run_id = job.run_id
            self.transition(
                Status.FAILED,
                f"interrupted: its worker was lost (last checkpoint {since})",
                last_error=f"worker lost during {job.phase or 'start'} (last checkpoint {since})",
            )
        if self.job.status == Status.FAILED:
            self.transition(Status.PENDING, "recovery ready: resuming from the last checkpoint")
        elif self.job.status in {Status.NOT_STARTED, Status.FINISHED}:
            self.transition(Status.PENDING, "queued for a new pass")
            self._new_pass(default_page_size)
        if self._must_restart():
            self._new_pass(default_page_size)
        self.transition(
            Status.RUNNING, f"{self.job.mode} pass, {self.job.phase} phase", run_id=self.run_id, next_retry_at=None
        )
        return None

    def _must_restart(self) -> bool:
        """A pass under way is restarted from scratch if the config changed or a full one is asked for."""
        job = self.job
        if job.mode is None or job.phase is None:
            return True
        if job.config_hash != self.config_hash:
            self.log.warning("%s %s: configuration changed: a full pass starts", self.service, self.entity)
            return True
        return self.full_refresh and job.mode != "full"

    def _new_pass(self, page_size: int) -> None:
        job = self.job
        full = self.full_refresh or job.watermark_ts is None or job.config_hash != self.config_hash
        self._write(
            replace(
                job,
                mode="full" if full else "incremental",
                phase="walk",
                config_hash=self.config_hash,
                cursor=None,
                page_size=page_size,
                keyset_ts=None,
                keyset_ids=[],
                walk_lower=None,
                walk_upper=None,
                walk_top_ts=None,
                walk_top_id=None,
                pages=0,
                items=0,
                skipped=0,
                warnings=0,
                api_cost=0,
                api_count=None,
                db_count=None,
                last_error=None,
                needs_attention=False,
                pass_started_at=utcnow(),
            )
        )

    def sweep_due(self, every_hours: float) -> bool:
        """An incremental pass sweeps when the last sweep (or full pass) is older than the interval."""
        last = self.job.last_sweep_at
        return last is None or utcnow() - last >= dt.timedelta(hours=every_hours)

    def wait(self, until: dt.datetime, reason: str) -> None:
        """Rate limited for long: PENDING until ``until``; the checkpoint is already stored."""
        self.transition(Status.PENDING, reason, next_retry_at=until, last_error=redact(reason)[:4000])

    def fail(self, exc: BaseException, *, attention: bool) -> None:
        """RUNNING -> FAILED with the error kept; ``attention``: wait for a person, not the next run."""
        error = redact(f"{type(exc).__name__}: {exc}")[:4000]
        self.transition(Status.FAILED, error[:500], last_error=error, needs_attention=attention)

    def finish(self) -> None:
        """RUNNING -> FINISHED; the walk's newest record becomes the next pass's watermark.

        A pass that skipped records keeps the old watermark (a full pass keeps none), so the
        next pass reads the skipped records again: fixed at the source, they are not lost.
        """
        job = self.job
        reason = f"{job.mode} pass done: {job.items} items in {job.pages} pages"
        if job.warnings:
            reason += f", {job.warnings} warnings ({job.skipped} records skipped)"
        if job.skipped:
            watermark_ts, watermark_id = (
                (job.watermark_ts, job.watermark_id) if job.mode == "incremental" else (None, None)
            )
        else:
            watermark_ts, watermark_id = job.walk_top_ts or job.watermark_ts, job.walk_top_id or job.watermark_id
        self.transition(
            Status.FINISHED,
            reason,
            last_sync_at=utcnow(),
            last_error=None,
            watermark_ts=watermark_ts,
            watermark_id=watermark_id,
        )

    def result(self, outcome: str, message: str = "") -> EntityResult:
        job = self.job
        return EntityResult(
            self.service,
            self.entity,
            outcome,
            job.status,
            job.mode,
            job.pages,
            job.items,
            job.skipped,
            job.warnings,
            job.api_cost,
            job.api_count,
            job.db_count,
            job.next_retry_at,
            message or job.status_reason or "",
        )


def set_status(service: str, entity: str, status: Status, *, reason: str) -> str:
    """Pause or resume a job by hand (``etl sync pause|resume``); returns its new status.

    Pausing a RUNNING job takes effect at its next page: that page is not committed.
    Resuming clears ``needs_attention``, so a job failed on a corrupt page runs again.
    """
    sources = {
        Status.PAUSED: [Status.PENDING, Status.RUNNING, Status.FAILED],
        Status.PENDING: [Status.PAUSED, Status.FAILED],
    }[status]
    with db.connect(autocommit=True, application_name="etl sync") as conn:
        row = db.run_sql(
            conn,
            "sync/set_sync_job_status",
            {"service": service, "entity": entity, "status": status, "reason": reason, "from_statuses": sources},
        ).fetchone()
        if row is None:
            current = db.run_sql(conn, "sync/select_sync_job", {"service": service, "entity": entity}).fetchone()
            state = "unknown (never synced)" if current is None else current[2]
            raise IllegalTransitionError(f"{service} {entity} is {state}: it cannot become {status}")
    return row[0]
