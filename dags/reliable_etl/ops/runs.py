"""The run ledger: one row per pipeline run in ops.pipeline_runs.

``pipeline_run`` opens a run's row (``running``, committed at once), closes it ``failed`` with
the error if the body raises, and ``success`` when the body ends, if it ``closes`` the run.
Nested calls for the same run are free: the outermost ``pipeline_run`` of a run in a process
writes its row, inner ones (a function an operator calls, which the CLI also calls alone)
reuse it. So an operator, the CLI and a test that call the same function write one ledger.

The ledger never stops the work: a write that fails (the ops tables unreachable) is retried
briefly, then the work goes on, and says so once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import psycopg

from reliable_etl import db
from reliable_etl.ops.logs import PipelineLogger, redact

_active: ContextVar[dict[tuple[str, str], RunLedger] | None] = ContextVar("etl_active_runs", default=None)
_warned: set[str] = set()  # one notice per pipeline and process when the ledger is unreachable


def record_run(
    conn: psycopg.Connection,
    pipeline: str,
    run_id: str,
    *,
    status: str,
    records_in: int | None = None,
    records_out: int | None = None,
    records_rejected: int | None = None,
    error: str | None = None,
    metadata: dict | None = None,
) -> None:
    """Create or update the run's row; counts left as None keep their stored value.

    A status other than ``running`` closes the run (ended_at, duration_ms). A running row gets
    its holder (``reliable_etl.ops.holders``), held before it is written: a run is never open
    without one. Whoever closes a run releases it after the commit (``holders.release``).
    """
    from reliable_etl.ops import holders

    metadata = dict(metadata or {})
    if status == "running":
        metadata["holder"] = holders.hold(pipeline, run_id)
    db.run_sql(
        conn,
        "ops/upsert_pipeline_run",
        {
            "pipeline_name": pipeline,
            "run_id": run_id,
            "status": status,
            "records_in": records_in,
            "records_out": records_out,
            "records_rejected": records_rejected,
            "error": redact(error)[:4000] if error else None,
            "metadata": json.dumps(metadata or {}, default=str),
        },
    )


@dataclass
class RunLedger:
    """The ledger row of one run, written best-effort (see the module docstring)."""

    pipeline: str
    run_id: str
    log: PipelineLogger
    metadata: dict = field(default_factory=dict)
    closed: bool = False  # finished by ``finish``: the enclosing pipeline_run writes nothing more

    def update(self, **counts: int | None) -> bool:
        """Record counts (records_in, records_out, records_rejected) on the running row."""
        return self.write("running", **counts)

    def finish(self, status: str = "success", *, error: str | None = None, **counts: int | None) -> bool:
        """Close the run now, with its counts; the enclosing ``pipeline_run`` then leaves it as is."""
        self.closed = True
        return self.write(status, error=error, **counts)

    def write(self, status: str, *, error: str | None = None, **counts: int | None) -> bool:
        """Write the row now; False (and one warning) if the ledger is unreachable."""
        from reliable_etl.ops import holders
        from reliable_etl.retry import retrying

        def once() -> None:
            with db.transaction(application_name=f"etl {self.pipeline} runs") as conn:
                record_run(
                    conn, self.pipeline, self.run_id, status=status, error=error, metadata=self.metadata, **counts
                )

        try:
            retrying(log=self.log, what=f"ledger of run {self.run_id}", attempts=3)(once)
        except psycopg.Error as exc:
            if self.pipeline not in _warned:
                _warned.add(self.pipeline)
                self.log.warning(
                    "ops.pipeline_runs is unreachable (%s): the run goes on without its ledger row",
                    redact(str(exc)).splitlines()[0],
                )
            return False
        if status != "running":
            holders.release(self.pipeline, self.run_id)
        return True


def close_dead_runs_of(pipeline: str, run_id: str, log: PipelineLogger) -> None:
    """As a run opens: the pipeline's runs whose holder is gone, closed by it (retried as any
    bookkeeping, never stopping the run). ``pipeline_run`` does it; a run opened otherwise calls it."""
    from reliable_etl.ops.holders import close_dead_runs
    from reliable_etl.retry import retrying

    try:
        retrying(log=log, what=f"dead runs of {pipeline}", attempts=3)(
            close_dead_runs, pipeline, found_by=run_id, log=log
        )
    except Exception as exc:  # the watchdog closes them otherwise
        log.warning("could not look for dead runs of %s: %s", pipeline, redact(str(exc)).splitlines()[0])


@contextmanager
def pipeline_run(
    pipeline: str,
    run_id: str,
    *,
    log: PipelineLogger | None = None,
    closes: bool = True,
    metadata: dict | None = None,
) -> Iterator[RunLedger]:
    """The run's ledger row around a block: ``running``, then ``failed`` or (if ``closes``) ``success``.

    Inside an open ``pipeline_run`` of the same run this writes nothing and yields the open one.
    Skips (AirflowSkipException) close the run as success: nothing was left to do.
    """
    active = _active.get() or {}
    key = (pipeline, run_id)
    if key in active:
        if metadata:
            active[key].metadata.update(metadata)
        yield active[key]
        return
    ledger = RunLedger(pipeline, run_id, log or PipelineLogger(pipeline, run_id, stage="run"), dict(metadata or {}))
    token = _active.set({**active, key: ledger})
    from airflow.sdk.exceptions import AirflowRescheduleException, AirflowSkipException, TaskDeferred

    try:
        if ledger.write("running"):
            close_dead_runs_of(pipeline, run_id, ledger.log)
        yield ledger
    except (TaskDeferred, AirflowRescheduleException):
        raise  # the task goes on later: the run stays "running"
    except AirflowSkipException as exc:
        if closes and not ledger.closed:
            ledger.metadata["skipped"] = str(exc)[:500]
            ledger.write("success")
        raise
    except BaseException as exc:
        if not ledger.closed:
            ledger.write("failed", error=str(exc) or type(exc).__name__)
        raise
    else:
        if closes and not ledger.closed:
            ledger.write("success")
    finally:
        _active.reset(token)
