"""One retry policy for the whole bundle, on tenacity.

Transient errors (connection loss, serialization failure, deadlock, lock or statement
timeout, a busy unit) are retried with exponential backoff and full jitter, bounded in
attempts and in total time, each retry logged. Everything else, bad data and constraint
violations above all, fails at once. Airflow task retries are the outer layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from etl.config import settings
from etl.errors import UnitBusyError

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATE classes and codes worth a second try: the same statement can succeed later.
TRANSIENT_SQLSTATE_CLASSES = ("08",)  # connection exception
TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now
    "53300",  # too_many_connections
}


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same unit of work may succeed."""
    if isinstance(exc, UnitBusyError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        if state in TRANSIENT_SQLSTATES or state[:2] in TRANSIENT_SQLSTATE_CLASSES:
            return True
        # a dropped connection surfaces without a SQLSTATE
        return not state and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    return False


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "transient error in %s (attempt %d), retrying in %.1fs: %s",
        getattr(state.fn, "__qualname__", "unit of work"),
        state.attempt_number,
        state.upcoming_sleep,
        exc,
    )


def retrying(*, attempts: int | None = None, max_seconds: float | None = None) -> Retrying:
    """A tenacity ``Retrying`` with the bundle's policy (see the module docstring)."""
    cfg = settings()
    return Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait_random_exponential(multiplier=cfg.retry_wait_min, max=cfg.retry_wait_max),
        stop=stop_after_attempt(attempts or cfg.retry_attempts)
        | stop_after_delay(max_seconds or cfg.retry_max_seconds),
        before_sleep=_log_retry,
        reraise=True,
    )


def call_with_retry(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run ``fn`` (which must open its own connection and transaction) under the policy."""
    return retrying()(fn, *args, **kwargs)
