"""health_check: are the warehouse, Redis and the DuckDB analytics file up; disk and memory use.

Every probe is tried once (a health check reports the state now; the next one is 30 minutes
away) and a service that is down is a ``False`` plus a line in ``errors``, never an exception.
The DuckDB file is opened read-only: a lock held by a writer ("Could not set lock on file ...
Conflicting lock is held") means the file is there and in use, so it counts as healthy and
the lock is noted in ``errors``. The result is cached in Redis (``<prefix>health:latest``, with
a TTL) when Redis is up; ``reliable_etl.maintenance.tasks`` keeps it in ``ops.maintenance_runs``.

Queries it sends: ``select current_setting('server_version_num'), pg_is_in_recovery()`` and the
insert of its result; Redis ``PING`` and ``SET ... EX``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.maintenance import services
from reliable_etl.maintenance.services import describe, service_down
from reliable_etl.ops.logs import PipelineLogger

JOB = "health_check"
PROBE_TIMEOUT_MS = 5000
LOCK_HELD = re.compile(r"Could not set lock on file .*Conflicting lock is held", re.DOTALL)


@dataclass
class Usage:
    percent: float
    used_gb: float
    total_gb: float
    path: str | None = None


@dataclass
class HealthResult:
    """The seed's shape: ``{timestamp, postgres, redis, duckdb, disk_space, memory_usage, errors}``."""

    timestamp: dt.datetime
    postgres: bool = False
    redis: bool = False
    duckdb: bool = False
    duckdb_in_use: bool = False
    duckdb_not_built: bool = False  # never built: etl_analytics_mirror is off; a switch, not a failure
    disk_space: Usage | None = None
    memory_usage: Usage | None = None
    errors: list[str] = field(default_factory=list)
    cached: bool = False

    def problems(self, required: tuple[str, ...] | None = None) -> dict[str, str]:
        """``{component: what is wrong}`` for the components that make the check unhealthy."""
        cfg = settings()
        required = cfg.health_required if required is None else required
        found = {
            name: "down" for name in ("postgres", "redis", "duckdb") if name in required and not getattr(self, name)
        }
        if self.duckdb_not_built:
            found.pop("duckdb", None)
        if self.disk_space and self.disk_space.percent > cfg.health_disk_percent_max:
            found["disk"] = f"{self.disk_space.percent:.0f}% used (above {cfg.health_disk_percent_max:.0f}%)"
        if self.memory_usage and self.memory_usage.percent > cfg.health_memory_percent_max:
            found["memory"] = f"{self.memory_usage.percent:.0f}% used (above {cfg.health_memory_percent_max:.0f}%)"
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems()

    @property
    def status(self) -> str:
        return "healthy" if self.healthy else "unhealthy"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        data["status"] = self.status
        return data


def check_postgres(result: HealthResult) -> None:
    try:
        with db.connect(autocommit=True, application_name="etl health") as conn:
            conn.execute(f"set statement_timeout = {PROBE_TIMEOUT_MS}")
            db.run_sql(conn, "maintenance/select_health_probe").fetchone()
        result.postgres = True
    except Exception as exc:
        if not service_down(exc):
            raise
        result.errors.append(f"postgres: {describe(exc)}")


def check_redis(result: HealthResult):
    """Ping Redis; returns the client when it answers (the result is cached there afterwards)."""
    try:
        client = services.redis_client()
        client.ping()
    except Exception as exc:
        if not service_down(exc):
            raise
        result.errors.append(f"redis: {describe(exc)}")
        return None
    result.redis = True
    return client


def check_duckdb(result: HealthResult, path: Path | None = None) -> None:
    import duckdb

    path = Path(path or settings().analytics_path)
    if not path.exists():
        if result.postgres and not _mirror_built():
            result.duckdb_not_built = True
            result.errors.append(
                f"duckdb: the analytics mirror is not built yet ({path}): switch on the DAG etl_analytics_mirror;"
                " it builds the file at the next change of gold"
            )
        else:
            result.errors.append(f"duckdb: no analytics file at {path} (built before: it is gone)")
        return
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("select 1").fetchone()
    except duckdb.IOException as exc:
        if not LOCK_HELD.search(str(exc)):
            result.errors.append(f"duckdb: {describe(exc)}")
            return
        holder = re.search(r"\(PID (\d+)\)", str(exc))
        result.duckdb_in_use = True
        result.errors.append(
            f"duckdb: {path.name} is in use by a writer{f' (PID {holder.group(1)})' if holder else ''}:"
            " the file is there, readers wait for the writer"
        )
    except duckdb.Error as exc:  # not a DuckDB file, or a damaged one
        result.errors.append(f"duckdb: {describe(exc)}")
        return
    result.duckdb = True


def _mirror_built() -> bool:
    with db.connect(autocommit=True, application_name="etl health") as conn:
        return db.run_sql(conn, "maintenance/select_mirror_built").fetchone()[0]


def _usage(percent: float, used: int, total: int, path: str | None = None) -> Usage:
    gib = 1024**3
    return Usage(round(percent, 1), round(used / gib, 2), round(total / gib, 2), path)


def check_host(result: HealthResult) -> None:
    """Disk use where the bundle keeps its files (ETL_HOME, or its nearest existing parent) and memory use."""
    path = settings().home
    while not path.exists() and path != path.parent:
        path = path.parent
    disk = psutil.disk_usage(str(path))
    result.disk_space = _usage(disk.percent, disk.used, disk.total, str(path))
    memory = psutil.virtual_memory()
    result.memory_usage = _usage(memory.percent, memory.total - memory.available, memory.total)


def health_check(
    *,
    run_id: str | None = None,
    log: PipelineLogger | None = None,
    progress: Callable[[str], None] | None = None,
) -> HealthResult:
    """Probe every service once; cache the result in Redis when it is up.

    ``progress(step)`` is called before each step (postgres, redis, duckdb, host).
    """
    log = log or services.logger(JOB, run_id)
    step = progress or (lambda _name: None)
    result = HealthResult(timestamp=dt.datetime.now(dt.UTC))
    step("postgres")
    check_postgres(result)
    step("redis")
    client = check_redis(result)
    step("duckdb")
    check_duckdb(result)
    step("host")
    check_host(result)
    for name, problem in result.problems().items():
        log.warning("health: %s %s", name, problem, metadata={"component": name})
    for error in result.errors:
        log.info("health: %s", error)
    if client is not None:
        try:
            client.set(
                services.redis_key("health", "latest"),
                json.dumps(result.as_dict(), default=str),
                ex=settings().health_cache_ttl_seconds,
            )
            result.cached = True
        except Exception as exc:
            if not service_down(exc):
                raise
            result.errors.append(f"redis: result not cached: {describe(exc)}")
    log.info(
        "health: %s (postgres %s, redis %s, duckdb %s, disk %.0f%%, memory %.0f%%)",
        result.status,
        result.postgres,
        result.redis,
        result.duckdb,
        result.disk_space.percent if result.disk_space else -1,
        result.memory_usage.percent if result.memory_usage else -1,
        metadata={"status": result.status, "errors": result.errors},
    )
    return result
