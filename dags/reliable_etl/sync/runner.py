"""Drive one entity through its pass, and a queue of entities for the CLI.

A pass is a sequence of phases, each made of pages committed with their checkpoint:

    walk       the changed records, page by page (all of them in a full pass, whose walk also
               notes every id it sees)
    recheck    records fetched again by id, 100 at a time: in a full pass, those of our rows
               the walk did not see (gone: soft-deleted; moved during the walk: refreshed), so
               a full pass needs no sweep; in an incremental GitHub pass, pull requests still
               open here that the walk did not reach
    sweep      incremental passes, every ETL_SYNC_SWEEP_HOURS: the id-only listing that
               soft-deletes what the API no longer returns (and, at once, what it says is gone)
    reconcile  the API's count against ours; a mismatch is a warning with both numbers

The phase under way is part of the checkpoint, so a resumed pass goes on where it stopped.
Both the Airflow operators and ``etl sync`` call ``sync_entity``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import psycopg

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.ops.logs import PipelineLogger, flush_logs, redact
from reliable_etl.ops.runs import RunLedger, pipeline_run
from reliable_etl.sync.errors import ApiRequestError, CorruptPageError, JobPausedError, RateLimitWait, RecordError
from reliable_etl.sync.jobs import PHASES, EntityResult, EntityRun, utcnow

if TYPE_CHECKING:
    from reliable_etl.sync.hooks.api import ApiHook

Progress = Callable[[str], None]
Reject = tuple[dict, str]  # (the record as delivered, why it was skipped)
RECHECK_BATCH = 100  # GitHub's nodes(ids:) and a Jira page both take at most 100


def timestamp(value: object, *, optional: bool = False) -> dt.datetime | None:
    """An API timestamp with its zone (GitHub's ISO 8601, Jira's ``...T10:30:45.123+0000``), or RecordError."""
    if value is None and optional:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RecordError(f"not a timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"timestamp without time zone: {value!r}")
    return parsed


class SweepPage(NamedTuple):
    """One page of the id-only sweep."""

    ids: list[str]  # the ids the API lists
    following: str | None  # the next page's cursor; None after the last page
    cost: int  # API cost
    remaining: int | None  # API points left, when the API says
    gone: Sequence[str] = ()  # ids listed on an earlier page that the API now says do not exist


class ServiceSync:
    """What a service (GitHub, Jira) plugs into the runner: one method per phase."""

    service: str
    label: str  # the service's name in messages
    pipeline: str
    table: str  # sync.<table>, upserted by sql/sync/upsert_<table>.sql
    rechecks_incremental = False  # incremental passes re-fetch records the walk cannot see change
    hook: ApiHook

    def __init__(self, *, run_id: str, log: PipelineLogger | None = None, progress: Progress | None = None) -> None:
        self.run_id = run_id
        self.log = log or PipelineLogger(self.pipeline, run_id, stage="sync")
        self.progress = progress or (lambda line: None)

    def config_hash(self) -> str:
        raise NotImplementedError

    def validate_entity(self, entity: str) -> None:
        raise NotImplementedError

    def check_configuration(self) -> None:
        """A missing or malformed Connection, before any job state changes: ConfigurationError."""
        self.hook.check_connection()

    def page_size(self) -> int:
        return settings().sync_page_size

    def next_phase(self, run: EntityRun, phase: str) -> str | None:
        """The phase after ``phase`` in this pass (None: the pass is complete)."""
        full = run.job.mode == "full"
        for following in PHASES[PHASES.index(phase) + 1 :]:
            if following == "recheck" and not (full or self.rechecks_incremental):
                continue
            if following == "sweep" and (full or not run.sweep_due(settings().sync_sweep_hours)):
                continue  # a full pass's walk and recheck already did what the sweep does
            return following
        return None

    def report(self, run: EntityRun, what: str) -> None:
        """A progress line: to the task log (JSON) and to the CLI."""
        job = run.job
        line = (
            f"{run.entity}: {what} (pass: {job.pages} pages, {job.items} items, "
            f"{job.skipped} skipped, cost {job.api_cost}"
            + (f", {job.rate_remaining} points left" if job.rate_remaining is not None else "")
            + ")"
        )
        self.log.info("%s", line, metadata={"entity": run.entity, "phase": job.phase, "pages": job.pages})
        self.progress(line)

    def split(self, entity: str, records: list[dict]) -> tuple[list[dict], list[Reject]]:
        """Valid rows, and the records that fail validation with the reason."""
        rows, rejects = [], []
        for record in records:
            try:
                rows.append(self.row(entity, record))
            except RecordError as exc:
                rejects.append((record, str(exc)))
        for _, reason in rejects:
            self.log.warning("%s: skipped a record: %s", entity, reason)
        return rows, rejects

    def row(self, entity: str, record: dict) -> dict:
        """One API record as a table row, or RecordError."""
        raise NotImplementedError

    def write_page(self, conn: psycopg.Connection, run: EntityRun, rows: list[dict], rejects: list[Reject]) -> None:
        """A walk page: its rows and rejects, and in a full pass the ids it saw (for the recheck)."""
        self.write_rows(conn, run.entity, rows, rejects)
        if run.job.mode == "full":
            params = {"service": self.service, "entity": run.entity}
            if run.job.pages == 0:  # the first page: forget ids noted by an abandoned pass
                db.run_sql(conn, "sync/clear_sweep_ids", params)
            seen = [str(row["id"]) for row in rows] + [str(r["id"]) for r, _ in rejects if r.get("id")]
            db.run_sql(conn, "sync/insert_sweep_ids", {**params, "ids": seen})

    def write_rows(self, conn: psycopg.Connection, entity: str, rows: list[dict], rejects: list[Reject]) -> None:
        """Upsert a page's rows and keep its rejects in ops.rejected_rows (line = the record's number)."""
        with conn.cursor() as cur:
            if rows:  # one statement per page: the rows travel as one JSON document
                unique = {row["id"]: row for row in rows}  # a record listed twice is upserted once
                cur.execute(
                    db.load_sql(f"sync/upsert_{self.table}"), {"rows": json.dumps(list(unique.values()), default=str)}
                )
            if rejects:
                cur.executemany(
                    db.load_sql("ops/upsert_rejected_row"),
                    [
                        {
                            "pipeline_name": self.pipeline,
                            "source": f"{self.service}:{entity}",
                            "line": self.record_number(record),
                            "raw": json.dumps(record, default=str)[:8000],
                            "reason": reason,
                            "unit_key": entity,
                            "run_id": self.run_id,
                        }
                        for record, reason in rejects
                    ],
                )

    def record_number(self, record: dict) -> int:
        raise NotImplementedError

    def write_sweep_page(self, conn: psycopg.Connection, entity: str, page: SweepPage, *, first: bool) -> None:
        """One page of the id-only sweep; after the last, soft-delete what was not listed."""
        params = {"service": self.service, "entity": entity}
        if first:  # ids left by a sweep that was abandoned (its pass restarted)
            db.run_sql(conn, "sync/clear_sweep_ids", params)
        db.run_sql(conn, "sync/insert_sweep_ids", {**params, "ids": page.ids})
        if page.gone:  # gone since an earlier page listed them: soft-deleted now, and not revived at the end
            db.run_sql(conn, "sync/delete_sweep_ids", {**params, "ids": list(page.gone)})
            db.run_sql(conn, f"sync/soft_delete_{self.table}", {"ids": list(page.gone)})
        if page.following is None:
            db.run_sql(conn, f"sync/apply_{self.service}_sweep", params)
            db.run_sql(conn, "sync/clear_sweep_ids", params)

    def walk(self, run: EntityRun) -> None:
        raise NotImplementedError

    def recheck(self, run: EntityRun) -> None:
        """Fetch records again by id, a batch per transaction; missing ones are soft-deleted."""
        while True:
            job = run.job
            full = job.mode == "full"
            if full:  # our rows the full walk did not see
                params = {
                    "service": self.service,
                    "entity": run.entity,
                    "after": job.cursor,
                    "batch_size": RECHECK_BATCH,
                }
                ids = [str(r[0]) for r in db.run_sql(run.conn, f"sync/select_unseen_{self.table}", params)]
            else:
                ids = self.stale_ids(run)
            records, gone, cost, remaining = self.fetch_by_ids(run.entity, ids) if ids else ([], [], 0, None)
            rows, rejects = self.split(run.entity, records)
            done = len(ids) < RECHECK_BATCH
            checkpoint = replace(
                job,
                cursor=None if done else ids[-1],
                phase=self.next_phase(run, "recheck") if done else "recheck",
                skipped=job.skipped + len(rejects),
                warnings=job.warnings + bool(rejects),
                api_cost=job.api_cost + cost,
                rate_remaining=remaining if remaining is not None else job.rate_remaining,
                last_sweep_at=utcnow() if done and full else job.last_sweep_at,
            )

            def write(conn: psycopg.Connection, rows=rows, rejects=rejects, gone=gone, last=done and full) -> None:
                self.write_rows(conn, run.entity, rows, rejects)
                db.run_sql(conn, f"sync/soft_delete_{self.table}", {"ids": gone})
                if last:
                    db.run_sql(conn, "sync/clear_sweep_ids", {"service": self.service, "entity": run.entity})

            run.commit(write, checkpoint, point="recheck")
            if ids:
                self.report(run, f"fetched {len(ids)} records again by id ({len(gone)} gone)")
            if done:
                return

    def stale_ids(self, run: EntityRun) -> list[str]:
        """Incremental passes: the next batch of records to fetch again by id (after ``run.job.cursor``)."""
        return []

    def fetch_by_ids(self, entity: str, ids: list[str]) -> tuple[list[dict], list[str], int, int | None]:
        """(records found, ids the API no longer has, API cost, points left or None)."""
        raise NotImplementedError

    def sweep(self, run: EntityRun) -> None:
        """Every id the API still lists, page by page; after the last, soft-delete the rest."""
        while True:
            job = run.job
            page = self.sweep_page(run.entity, job.cursor)
            done = page.following is None
            checkpoint = replace(
                job,
                cursor=page.following,
                api_cost=job.api_cost + page.cost,
                rate_remaining=page.remaining if page.remaining is not None else job.rate_remaining,
            )
            if done:
                checkpoint = replace(checkpoint, phase=self.next_phase(run, "sweep"), last_sweep_at=utcnow())
            first = job.cursor is None
            run.commit(
                lambda conn, page=page, first=first: self.write_sweep_page(conn, run.entity, page, first=first),
                checkpoint,
                point="sweep",
            )
            if done:
                self.report(run, "id sweep done")
                return

    def sweep_page(self, entity: str, cursor: str | None) -> SweepPage:
        """The page of the listing that ``cursor`` points at (None: the first)."""
        raise NotImplementedError

    def reconcile(self, run: EntityRun) -> None:
        """The API's count against our live rows; a mismatch is a warning with both numbers."""
        job = run.job
        theirs, cost, remaining = self.count_remote(run)
        ours = self.count_local(run)
        mismatch = theirs != ours
        if mismatch:
            self.log.warning(
                "%s: %s counts %d, we hold %d",
                run.entity,
                self.label,
                theirs,
                ours,
                metadata={"api_count": theirs, "db_count": ours},
            )
        checkpoint = replace(
            job,
            phase=self.next_phase(run, "reconcile"),
            api_count=theirs,
            db_count=ours,
            reconciled_at=utcnow(),
            warnings=job.warnings + mismatch,
            api_cost=job.api_cost + cost,
            rate_remaining=remaining if remaining is not None else job.rate_remaining,
        )
        run.commit(lambda conn: None, checkpoint, point="reconcile")

    def count_remote(self, run: EntityRun) -> tuple[int, int, int | None]:
        """(the API's count of the entity's records, API cost, points left or None)."""
        raise NotImplementedError

    def count_local(self, run: EntityRun) -> int:
        """Our live rows of the entity, counted as the API counts them."""
        raise NotImplementedError


def sync_entity(sync: ServiceSync, entity: str, *, run_id: str, full_refresh: bool = False) -> EntityResult:
    """Run (or resume) ``entity``'s pass to its end, or to a documented stop.

    Outcomes: finished | waiting (rate limited: PENDING until next_retry_at) | paused |
    skipped (already finished in this run). Errors leave the job FAILED with the error kept
    and are raised: a corrupt page or a refused request also sets needs_attention, so only
    ``etl sync resume`` (not the next run) retries it.
    """
    sync.validate_entity(entity)
    sync.check_configuration()
    started = time.monotonic()
    ledger_id = f"{run_id}:{entity}"
    with EntityRun(
        sync.service, entity, run_id=run_id, config_hash=sync.config_hash(), full_refresh=full_refresh, log=sync.log
    ) as run:
        why_not = run.start(default_page_size=sync.page_size())
        if why_not == "needs attention":
            raise ApiRequestError(
                f"{sync.service} {entity} failed and needs attention: {run.job.last_error}. "
                f"Fix the cause, then `etl sync resume {sync.service} {entity}`"
            )
        if run.lost_run_id and run.lost_run_id != run_id:
            _close_lost_run(sync, run, f"{run.lost_run_id}:{entity}", found_by=ledger_id)
        if why_not is not None:
            outcome = {"finished": "skipped", "paused": "paused", "waiting": "waiting"}[why_not]
            return run.result(outcome, f"{entity}: {why_not}")
        with pipeline_run(sync.pipeline, ledger_id, log=sync.log, closes=False, metadata={"entity": entity}) as ledger:
            ledger.update(**_counts(run))
            try:
                while run.job.phase is not None:
                    getattr(sync, run.job.phase)(run)
                run.finish()
            except RateLimitWait as exc:
                run.wait(exc.until, str(exc))
                sync.report(run, f"waiting until {exc.until:%H:%M:%S} UTC: {exc}")
                return run.result("waiting")  # the run stays "running" until the pass goes on
            except JobPausedError as exc:
                sync.report(run, str(exc))
                return run.result("paused")
            except (CorruptPageError, ApiRequestError) as exc:
                run.fail(exc, attention=True)
                _close(ledger, run, "failed", error=str(exc))
                raise
            except Exception as exc:
                run.fail(exc, attention=False)
                _close(ledger, run, "failed", error=str(exc))
                raise
            finally:
                flush_logs()
            _close(ledger, run, "success")
        sync.report(run, f"{run.job.status_reason} in {time.monotonic() - started:.1f} s")
        return run.result("finished")


def _close_lost_run(sync: ServiceSync, run: EntityRun, lost: str, *, found_by: str) -> None:
    """The dead worker's ledger row, still "running", closed as failed and lost (as a lost retail unit's)."""
    error = f"process lost: {sync.service} {run.entity} was left running by a process that is gone"
    error += f" (found by run {found_by})"
    params = {"pipeline_name": sync.pipeline, "run_ids": [lost], "run_id": found_by, "checkpoint_key": run.entity}
    if db.run_sql(run.conn, "ops/fail_lost_runs", {**params, "error": error}).fetchall():
        sync.log.warning("%s: closed the run %s its lost worker left running", run.entity, lost)


def _counts(run: EntityRun) -> dict:
    """The entity's figures for ops.pipeline_runs (records in = fetched, rejected = skipped)."""
    job = run.job
    return {"records_in": job.items + job.skipped, "records_out": job.items, "records_rejected": job.skipped}


def _close(ledger: RunLedger, run: EntityRun, status: str, error: str | None = None) -> None:
    job = run.job
    ledger.metadata.update(mode=job.mode, pages=job.pages, api_cost=job.api_cost)
    ledger.finish(status, error=redact(error) if error else None, **_counts(run))


def sync_queue(
    make_sync: Callable[[], ServiceSync],
    entities: list[str],
    *,
    run_id: str,
    full_refresh: bool = False,
    concurrency: int = 1,
    wait: bool = True,
    progress: Progress | None = None,
) -> list[EntityResult]:
    """The CLI's queue: every entity to the end of its pass, ``concurrency`` at a time.

    Entities that are rate limited come back when their ``next_retry_at`` is due (``wait``)
    or are reported as waiting. A failing entity does not stop the others; the first
    error is raised once all have run. Each thread has its own hook and connection.
    """
    say = progress or (lambda line: None)
    make_sync().check_configuration()  # one error for the whole queue, not one per entity
    results: dict[str, EntityResult] = {}
    errors: list[BaseException] = []

    def one(entity: str) -> None:
        try:
            results[entity] = sync_entity(make_sync(), entity, run_id=run_id, full_refresh=full_refresh)
        except Exception as exc:
            say(f"{entity}: FAILED: {redact(str(exc))}")
            errors.append(exc)

    queue = list(dict.fromkeys(entities))
    while queue:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="sync") as pool:
            list(pool.map(one, queue))
        waiting = [e for e in queue if e in results and results[e].outcome == "waiting"]
        if not waiting or not wait:
            break
        until = min(results[e].next_retry_at or utcnow() for e in waiting)
        pause = max(0.0, (until - utcnow()).total_seconds())
        say(f"rate limited: waiting {pause:.0f} s until {until:%H:%M:%S} UTC for {', '.join(waiting)} (state is saved)")
        time.sleep(pause + 0.5)
        queue = waiting
    if errors:
        raise errors[0]
    return [results[e] for e in dict.fromkeys(entities) if e in results]


def next_due(results: list[EntityResult]) -> dt.datetime | None:
    """The earliest ``next_retry_at`` among waiting entities (when to come back)."""
    times = [r.next_retry_at for r in results if r.outcome == "waiting" and r.next_retry_at]
    return min(times) if times else None
