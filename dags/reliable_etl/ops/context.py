"""Which Airflow task is running, for the structured logs (a context variable, cheap to import).

DAG files import this module when they are parsed (``bind_task`` is every task's
``on_execute_callback``), so it holds nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_task: ContextVar[dict | None] = ContextVar("etl_airflow_task", default=None)


@contextmanager
def task_context(
    *, dag_id: str, task_id: str, run_id: str, map_index: int = -1, try_number: int | None = None
) -> Iterator[dict]:
    """Inside an Airflow task: every record carries the task's ids (``airflow`` in the document,
    columns of ``ops.pipeline_logs``), whichever PipelineLogger wrote it, so it links to the task log."""
    ids = {"dag_id": dag_id, "task_id": task_id, "run_id": run_id, "map_index": map_index, "try_number": try_number}
    token = _task.set(ids)
    try:
        yield ids
    finally:
        _task.reset(token)


def bind_task(context: Any) -> None:
    """``on_execute_callback`` of every task of the bundle (see ``reliable_etl.tasks.task_defaults``): the
    records the task writes from now on carry its ids, whichever PipelineLogger writes them."""
    ti = context.get("ti")
    if ti is not None:
        _task.set(
            {
                "dag_id": getattr(ti, "dag_id", None),
                "task_id": getattr(ti, "task_id", None),
                "run_id": context.get("run_id"),
                "map_index": getattr(ti, "map_index", -1),
                "try_number": getattr(ti, "try_number", None),
            }
        )


def current_task() -> dict | None:
    """The ids of the task running in this context, or None outside a task."""
    return _task.get()
