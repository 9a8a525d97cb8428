"""Units of work: one transaction, one advisory lock, checkpoints written with the data.

    with unit_of_work("retail_daily", run_id, "2011-01-05", log=log) as unit:
        with unit.stage("bronze") as cp:
            ...                      # writes through unit.conn
            cp.metadata["rows"] = n

Each stage's start row is committed at once on a side connection (so monitors see work
in progress); its end row (completed, duration, metadata) is written by the unit's own
transaction, so it commits or rolls back with the data. If the unit fails, its
unfinished stage rows are marked failed with the error after the rollback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from etl import db
from etl.ops.logs import PipelineLogger, flush_logs, redact


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
    log: PipelineLogger

    @contextmanager
    def stage(self, name: str) -> Iterator[StageCheckpoint]:
        checkpoint = StageCheckpoint(name)
        ids = {"pipeline_name": self.pipeline, "run_id": self.run_id, "stage": name, "checkpoint_key": self.key}
        db.run_sql(self.side, "ops/start_checkpoint", ids)
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


@contextmanager
def unit_of_work(
    pipeline: str, run_id: str, key: str, *, log: PipelineLogger, lock: str | None = None
) -> Iterator[Unit]:
    """Run the body in one transaction under the advisory lock ``lock`` (default ``pipeline:key``)."""
    with db.connect(autocommit=True, application_name=f"etl {pipeline} ops") as side:
        try:
            with db.transaction(lock=lock or f"{pipeline}:{key}", application_name=f"etl {pipeline} {key}") as conn:
                yield Unit(conn, side, pipeline, run_id, key, log)
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
