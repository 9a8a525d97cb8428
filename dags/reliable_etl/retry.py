"""One retry policy for the whole bundle, on tenacity.

Transient errors (connection loss, a server shutting down or restarting, serialization
failure, deadlock, lock or statement timeout, a busy unit) are retried with exponential
backoff and "equal" jitter (half of each wait fixed, half random: retries spread out, yet
the waits add up to at least ``ETL_RETRY_WAIT_MIN * (2**(attempts-1) - 1) / 2`` s), bounded
in attempts (``ETL_RETRY_ATTEMPTS``) and total time (``ETL_RETRY_MAX_SECONDS``). A warehouse
that cannot be reached at all (an outage: a restart, a failover, a flapping network) is
waited for until the time bound, however many attempts that takes: several restarts in a
row must not exhaust a budget of attempts meant for errors the server answers with.
Everything else, bad data and constraint violations above all, fails at once. Airflow task
retries are the outer layer.

Every statement a pipeline sends goes through it, bookkeeping included: the unit of work
itself, and the short transactions around it (ledger rows, schema bootstrap, lookups)::

    result = retrying(log=log, what=f"day {day}")(load_once, day)

Each retry is logged through the pipeline's logger (so it reaches ``ops.pipeline_logs``)
with the unit, the attempt, the wait and the error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random_exponential,
)

from reliable_etl.config import settings
from reliable_etl.errors import UnitBusyError

if TYPE_CHECKING:
    from reliable_etl.ops.logs import PipelineLogger

T = TypeVar("T")

# SQLSTATE classes and codes worth a second try: the same statement can succeed later.
OUTAGE_SQLSTATE_CLASSES = ("08",)  # connection exception
OUTAGE_SQLSTATES = {
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now ("the database system is starting up / shutting down")
}
TRANSIENT_SQLSTATES = OUTAGE_SQLSTATES | {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "53300",  # too_many_connections
}
# A failed connection carries no SQLSTATE: these messages say the configuration is wrong
# (retrying cannot help), every other failed connection may be a server restarting.
PERMANENT_CONNECTION_ERRORS = (
    "does not exist",  # database or role
    "password authentication failed",
    "no pg_hba.conf entry",
    "authentication failed",
    "invalid connection option",
    "invalid URI",
)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same unit of work may succeed."""
    if isinstance(exc, UnitBusyError | ConnectionError | TimeoutError):
        return True
    return is_outage(exc) or (isinstance(exc, psycopg.Error) and exc.sqlstate in TRANSIENT_SQLSTATES)


def is_outage(exc: BaseException | None) -> bool:
    """True when the server could not be reached, is going down or coming up, or dropped the connection."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate or ""
    if state:
        return state in OUTAGE_SQLSTATES or state[:2] in OUTAGE_SQLSTATE_CLASSES
    # no SQLSTATE: the server never answered (refused, unreachable, dropped the connection)
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and not is_misconfigured(exc)


def _not_an_outage(state: RetryCallState) -> bool:
    return not is_outage(state.outcome.exception() if state.outcome else None)


def is_misconfigured(exc: BaseException) -> bool:
    """A connection refused for a reason only a person can fix (unknown database or role, bad password)."""
    return isinstance(exc, psycopg.OperationalError) and any(
        marker in str(exc) for marker in PERMANENT_CONNECTION_ERRORS
    )


def first_line(exc: BaseException | None) -> str:
    """An error as one line: its type and the first line of its message."""
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _logger(log: PipelineLogger | None, what: str | None) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        unit = what or getattr(state.fn, "__qualname__", "unit of work")
        error = first_line(exc)
        wait = state.upcoming_sleep
        if log is None:
            logging.getLogger(__name__).warning(
                "transient error in %s (attempt %d), retrying in %.1fs: %s", unit, state.attempt_number, wait, error
            )
            return
        log.warning(
            "transient error in %s (attempt %d), retrying in %.1fs: %s",
            unit,
            state.attempt_number,
            wait,
            error,
            metadata={
                "retry": {"unit": unit, "attempt": state.attempt_number, "wait_s": round(wait, 3)},
                "error": error,
            },
        )

    return before_sleep


def retrying(
    *,
    log: PipelineLogger | None = None,
    what: str | None = None,
    attempts: int | None = None,
    max_seconds: float | None = None,
) -> Retrying:
    """A tenacity ``Retrying`` with the bundle's policy; call it with the function and its arguments.

    ``log`` is the pipeline's logger (retries then reach ``ops.pipeline_logs``), ``what`` names
    the unit in those lines. The function must open its own connection and transaction.
    """
    cfg = settings()
    return Retrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential(multiplier=cfg.retry_wait_min / 2, max=cfg.retry_wait_max / 2)
        + wait_random_exponential(multiplier=cfg.retry_wait_min / 2, max=cfg.retry_wait_max / 2),
        # the attempt bound applies to errors the server answered with; an outage lasts until the time bound
        stop=(stop_after_attempt(attempts or cfg.retry_attempts) & _not_an_outage)
        | stop_after_delay(max_seconds or cfg.retry_max_seconds),
        before_sleep=_logger(log, what),
        reraise=True,
    )


def call_with_retry(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run ``fn(*args, **kwargs)`` under the policy, retries logged to the module logger.

    Pipelines use ``retrying(log=..., what=...)`` so that their retries reach their ops log.
    """
    return retrying()(fn, *args, **kwargs)
