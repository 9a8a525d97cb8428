"""What the maintenance jobs talk to (warehouse, Redis) and how a service that is down is told from a bug.

A service that is down (connection refused or lost, a server shutting down, a timeout, a
Connection not defined) is a value in a job's result: ``service_down(exc)`` says which
exceptions are that. Everything else is a bug and propagates.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING

import psycopg

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.ops.logs import PipelineLogger, redact
from reliable_etl.retry import first_line, is_transient, retrying

if TYPE_CHECKING:
    import redis

PIPELINE = "maintenance"
REDIS_TIMEOUT_S = 2.0


def logger(job: str, run_id: str | None) -> PipelineLogger:
    return PipelineLogger(PIPELINE, run_id, stage=job)


def describe(exc: BaseException) -> str:
    """An error as one line for a result: type and first line, secrets masked."""
    return redact(first_line(exc))


def service_down(exc: BaseException) -> bool:
    """True when ``exc`` says a service is unreachable or not configured, not that our code is wrong."""
    import redis.exceptions
    from airflow.sdk.exceptions import AirflowNotFoundException

    down = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        AirflowNotFoundException,  # a Connection that is not defined
    )
    return is_transient(exc) or isinstance(exc, down)


def connection_lost(exc: BaseException) -> bool:
    """The warehouse itself is gone (refused, dropped, shutting down), not one statement timing out."""
    if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = exc.sqlstate or ""
    return not state or state.startswith("08") or state in {"57P01", "57P02", "57P03"}


def retry_briefly(log: PipelineLogger, what: str):
    """The bundle's retry policy, bounded by ETL_MAINTENANCE_RETRY_SECONDS: a long outage is reported."""
    return retrying(log=log, what=what, max_seconds=settings().maintenance_retry_seconds)


def redis_client() -> redis.Redis:
    """The ``redis_default`` Connection's client (Redis provider's hook), with short socket timeouts."""
    from airflow.providers.redis.hooks.redis import RedisHook
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = RedisHook(redis_conn_id=settings().redis_conn_id).get_conn()
    # the hook sets no timeouts (a blackholed host would hang the check) and redis-py retries
    # a refused connection 3 times with backoff: a check reports the state now, once
    client.connection_pool.connection_kwargs.update(
        socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    client.set_retry(Retry(NoBackoff(), 0))
    return client


def redis_key(*parts: str) -> str:
    """A key of this bundle: ``ETL_REDIS_KEY_PREFIX`` + parts joined by ``:``."""
    return settings().redis_key_prefix + ":".join(parts)


def record_result(
    job: str,
    result: dict,
    *,
    status: str,
    run_id: str | None,
    started: float,
    started_at: dt.datetime,
    log: PipelineLogger,
) -> bool:
    """Keep a job's result in ops.maintenance_runs; False (and a warning) when the warehouse is down."""

    def write() -> None:
        with db.connect(autocommit=True, application_name=f"etl {job}") as conn:
            db.run_sql(
                conn,
                "maintenance/insert_maintenance_run",
                {
                    "job": job,
                    "run_id": run_id,
                    "status": status,
                    "started_at": started_at,
                    "duration_ms": round((time.monotonic() - started) * 1000),
                    "result": json.dumps(result, default=str),
                },
            )

    try:
        retry_briefly(log, f"{job} result")(write)
    except Exception as exc:
        if not service_down(exc):
            raise
        log.warning("%s: result not kept in ops.maintenance_runs: %s", job, describe(exc))
        return False
    return True
