"""Glue between Airflow task context and the package's plain functions."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from airflow.sdk.exceptions import AirflowFailException

from reliable_etl.errors import BadInputError

P = ParamSpec("P")
T = TypeVar("T")


def task_defaults(**overrides: object) -> dict:
    """The bundle's default_args: an owner, retries with exponential backoff, and structured logs
    bound to the task (its ids in every record of ``ops.pipeline_logs``, for links to its log)."""
    from reliable_etl.config import settings
    from reliable_etl.ops.context import bind_task

    return {
        "owner": "data-platform",
        "on_execute_callback": bind_task,
        "retries": settings().task_retries,
        "retry_delay": dt.timedelta(seconds=60),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
        **overrides,
    }


def fail_fast_on_bad_input(fn: Callable[P, T]) -> Callable[P, T]:
    """Bad input cannot get better by retrying: fail the task at once, without retries."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except BadInputError as exc:
            raise AirflowFailException(str(exc)) from exc

    return wrapper


def day_of(data_interval_start: dt.datetime | None) -> dt.date:
    """The calendar day a run processes: the start of its data interval (UTC)."""
    if data_interval_start is None:
        raise AirflowFailException(
            "this run has no data interval: trigger it with a logical date, or use "
            "`airflow backfill create` / `etl retail run` for a range of days"
        )
    return data_interval_start.astimezone(dt.UTC).date()
