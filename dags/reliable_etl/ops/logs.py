"""Structured logs: a readable line in the task log, a JSON document in ops.pipeline_logs.

Every record carries timestamp, level, message, pipeline_name, run_id, stage and
metadata. In the Airflow task log (and ``etl -v``) it reads as a line, message first and
fields after (Airflow adds the time, level and logger): ``day 2011-01-05 loaded: 40 rows
[stage=day rows=40]``. The JSON document goes, batched, to ``ops.pipeline_logs`` and to
``etl -v --json``. Secrets are masked before a record leaves the process.

If the log table is unreachable the work goes on and says so once; the records are kept
(up to ``MAX_BUFFERED``) and written when the warehouse answers again, so a short outage
loses none.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import re
import sys
import threading
import time
from typing import Any

from reliable_etl.config import settings
from reliable_etl.ops.context import current_task
from reliable_etl_plugin.masking import MASK, redact, redact_value

__all__ = ["MASK", "JsonFormatter", "PipelineLogger", "flush_logs", "readable", "redact", "redact_value"]

ROOT_LOGGER = "reliable_etl"
MAX_BUFFERED = 20_000  # records kept while ops.pipeline_logs is unreachable; older ones are dropped
RETRY_WRITE_SECONDS = 5.0  # while unreachable, try to write again at most this often


class PipelineLogger(logging.LoggerAdapter):
    """A logger bound to one pipeline run and stage; each call emits one JSON document.

    ``log.info("loaded %s rows", n, metadata={"file": name})``
    """

    def __init__(self, pipeline: str, run_id: str | None, stage: str | None = None) -> None:
        super().__init__(logging.getLogger(f"{ROOT_LOGGER}.{pipeline}"), {})
        self.pipeline = pipeline
        self.run_id = run_id
        self.stage = stage
        _install_sink()

    def bind(self, *, stage: str) -> PipelineLogger:
        return PipelineLogger(self.pipeline, self.run_id, stage)

    def log(self, level: int, msg: object, *args: object, metadata: dict | None = None, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        doc = {
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "level": logging.getLevelName(level),
            "message": redact(text),
            "pipeline_name": self.pipeline,
            "run_id": self.run_id,
            "stage": self.stage,
            "metadata": redact_value(metadata or {}),
        }
        if task := current_task():
            doc["airflow"] = task
        kwargs.setdefault("stacklevel", 2)
        kwargs["extra"] = {"etl_record": doc}
        self.logger.log(level, "%s", readable(doc), **kwargs)


def _field(value: Any) -> str:
    if isinstance(value, str):
        return value if value and not re.search(r"[\s\]=]", value) else json.dumps(value)
    return json.dumps(value, default=str, separators=(",", ":"))


def readable(doc: dict) -> str:
    """A record as one line for people: the message, then ``[stage=... key=value ...]``."""
    fields = {"stage": doc.get("stage"), **doc.get("metadata", {})}
    shown = " ".join(f"{key}={_field(value)}" for key, value in fields.items() if value is not None)
    return f"{doc['message']} [{shown}]" if shown else doc["message"]


class JsonFormatter(logging.Formatter):
    """The record's JSON document (``etl -v --json``); plain records get one built from them."""

    def format(self, record: logging.LogRecord) -> str:
        doc = getattr(record, "etl_record", None) or {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "message": redact(record.getMessage()),
            "logger": record.name,
        }
        return json.dumps(doc, default=str)


class PipelineLogSink(logging.Handler):
    """Buffers structured records and writes them to ops.pipeline_logs in batches.

    A failed write keeps the batch and says so once; the next flush after
    ``RETRY_WRITE_SECONDS`` tries again, and success says the table is back.
    """

    def __init__(self, batch_size: int) -> None:
        super().__init__(level=logging.INFO)
        self.batch_size = batch_size
        self.buffer: list[dict] = []
        self.unreachable = False
        self.dropped = 0
        self._retry_at = 0.0
        self._lock_flush = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        doc = getattr(record, "etl_record", None)
        if doc is None:
            return
        if len(self.buffer) >= MAX_BUFFERED:
            self.buffer.pop(0)
            self.dropped += 1
        task = doc.get("airflow") or {}
        self.buffer.append(
            {
                **doc,
                **{key: task.get(key) for key in ("dag_id", "task_id", "map_index", "try_number")},
                "logger": record.name,
                "module": record.module,
                "function": record.funcName,
                "line": record.lineno,
                "metadata": json.dumps(doc["metadata"], default=str),
            }
        )
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self, *, force: bool = False) -> None:
        with self._lock_flush:
            if not self.buffer or (self.unreachable and not force and time.monotonic() < self._retry_at):
                return
            batch, self.buffer = self.buffer, []
            try:
                self._write(batch)
            except Exception as exc:  # the log table must never stop the work
                self.buffer = batch + self.buffer
                self._retry_at = time.monotonic() + RETRY_WRITE_SECONDS
                if not self.unreachable:
                    self.unreachable = True
                    sys.stderr.write(
                        f"etl: ops.pipeline_logs is unreachable ({redact(str(exc)).splitlines()[0]}); "
                        "structured logs continue in the task log and are kept to be written later\n"
                    )
                return
            if self.unreachable:
                self.unreachable = False
                lost = f", {self.dropped} older ones dropped" if self.dropped else ""
                sys.stderr.write(f"etl: ops.pipeline_logs is reachable again ({len(batch)} records written{lost})\n")
                self.dropped = 0

    @staticmethod
    def _write(batch: list[dict]) -> None:
        from reliable_etl import db

        with db.connect(autocommit=True, application_name="etl logs") as conn, conn.cursor() as cur:
            cur.executemany(db.load_sql("ops/insert_pipeline_logs"), batch)


_sinks: list[PipelineLogSink] = []  # at most one per process


def _install_sink() -> None:
    if _sinks or not settings().log_to_db:
        return
    sink = PipelineLogSink(settings().log_batch_size)
    _sinks.append(sink)
    logger = logging.getLogger(ROOT_LOGGER)
    logger.addHandler(sink)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    atexit.register(flush_logs, force=True)


def flush_logs(*, force: bool = False) -> None:
    """Write buffered records now (end of a task, a unit of work, a CLI command).

    While the table is unreachable a flush tries again at most every few seconds, unless ``force``.
    """
    for sink in _sinks:
        sink.flush(force=force)
