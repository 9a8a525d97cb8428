"""Units of work: one transaction, one advisory lock, checkpoints written with the data.

    with unit_of_work("retail_daily", run_id, "2011-01-05", log=log) as unit:
        with unit.stage("bronze") as cp:
            ...                      # writes through unit.conn
            cp.metadata["rows"] = n

Each stage's start row is committed at once on a side connection (so monitors see work
in progress); its end row (completed, duration, metadata) is written by the unit's own
transaction, so it commits or rolls back with the data. If the unit fails, its
unfinished stage rows are marked failed with the error after the rollback.

A process killed inside a unit cannot say so: its stage rows stay ``in_progress`` and its
run ``running``. Whoever takes the unit's lock next has the proof that the holder is gone
(the lock died with its session), so ``unit_of_work`` first closes those rows as failed
with "process lost" (the run's metadata gets ``lost: true``: the ledger tells a lost run
from one that failed with an error). ``reap_lost_units`` does the same for every unit whose
lock is free, for monitors that do not write the unit themselves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from reliable_etl import db
from reliable_etl.ops.logs import PipelineLogger, flush_logs, redact


@dataclass
class StageCheckpoint:
    """What a stage reports about itself: a checkpoint value and free metadata."""

    name: str
    value: str | None = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Unit:
    conn: psycopg.Connection
    side: psycopg.Connection
    pipeline: str
    run_id: str
    key: str
    lock: str
    log: PipelineLogger

    @contextmanager
    def stage(self, name: str) -> Iterator[StageCheckpoint]:
        checkpoint = StageCheckpoint(name)
        ids = {"pipeline_name": self.pipeline, "run_id": self.run_id, "stage": name, "checkpoint_key": self.key}
        db.run_sql(self.side, "ops/start_checkpoint", {**ids, "lock_key": self.lock})
        log = self.log.bind(stage=name)
        log.info("%s %s started", name, self.key)
        started = time.monotonic()
        yield checkpoint
        duration_ms = round((time.monotonic() - started) * 1000)
        db.run_sql(
            self.conn,
            "ops/complete_checkpoint",
            {
                **ids,
                "checkpoint_value": checkpoint.value,
                "duration_ms": duration_ms,
                "metadata": json.dumps(checkpoint.metadata, default=str),
            },
        )
        log.info("%s %s done in %d ms", name, self.key, duration_ms, metadata=checkpoint.metadata)


def close_lost(side: psycopg.Connection, pipeline: str, key: str, *, run_id: str, log: PipelineLogger) -> list[str]:
    """Close the rows a dead holder of unit ``key`` left open; call only while holding its lock.

    Returns the runs found lost (other than ``run_id``: a retry of the same run takes its own
    stage rows over).
    """
    error = f"process lost: {pipeline} {key} was left in progress by a process that is gone (found by run {run_id})"
    ids = {"pipeline_name": pipeline, "checkpoint_key": key, "run_id": run_id, "error": error}
    stages = db.run_sql(side, "ops/fail_lost_checkpoints", ids).fetchall()
    if not stages:
        return []
    run_ids = sorted({row[0] for row in stages})
    lost = [row[0] for row in db.run_sql(side, "ops/fail_lost_runs", {**ids, "run_ids": run_ids}).fetchall()]
    log.warning(
        "%s %s: closed %d stage(s) a lost process left in progress (runs %s)",
        pipeline,
        key,
        len(stages),
        ", ".join(run_ids),
        metadata={"unit": key, "lost_runs": run_ids, "stages": [row[1] for row in stages]},
    )
    return lost


@contextmanager
def unit_of_work(
    pipeline: str, run_id: str, key: str, *, log: PipelineLogger, lock: str | None = None
) -> Iterator[Unit]:
    """Run the body in one transaction under the advisory lock ``lock`` (default ``pipeline:key``)."""
    lock = lock or f"{pipeline}:{key}"
    with db.connect(autocommit=True, application_name=f"etl {pipeline} ops") as side:
        try:
            with db.transaction(lock=lock, application_name=f"etl {pipeline} {key}") as conn:
                close_lost(side, pipeline, key, run_id=run_id, log=log)
                yield Unit(conn, side, pipeline, run_id, key, lock, log)
        except BaseException as exc:
            error = redact(f"{type(exc).__name__}: {exc}")[:4000]
            try:
                db.run_sql(
                    side,
                    "ops/fail_checkpoints",
                    {"pipeline_name": pipeline, "run_id": run_id, "checkpoint_key": key, "error": error},
                )
            except psycopg.Error:
                log.warning("could not mark the checkpoints of %s failed", key)
            log.error("%s %s failed, nothing of it was committed: %s", pipeline, key, error)
            raise
        finally:
            flush_logs()


def reap_lost_units(*, run_id: str, log: PipelineLogger) -> dict[str, list[str]]:
    """Close every unit left in progress whose lock is free (its holder is gone).

    For monitors: a unit whose lock is held is being written and is left alone.
    Returns ``{"pipeline unit": [lost runs]}``.
    """
    found: dict[str, list[str]] = {}
    with db.connect(autocommit=True, application_name="etl reaper") as side:
        units = db.run_sql(side, "ops/select_in_progress_units").fetchall()
        with db.connect(application_name="etl reaper") as probe:
            for pipeline, key, lock in units:
                with probe.transaction():
                    if not db.try_xact_lock(probe, lock):
                        continue  # someone is writing it right now
                    found[f"{pipeline} {key}"] = close_lost(side, pipeline, key, run_id=run_id, log=log)
    return found
