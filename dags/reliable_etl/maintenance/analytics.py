"""The DuckDB analytics file: the gold tables mirrored for analysts' local queries.

After gold changes (the ``etl_analytics_mirror`` DAG runs on the gold Assets), every table of
``ETL_ANALYTICS_SCHEMAS`` (default ``gold``) is read in ONE repeatable-read snapshot of the
warehouse (``COPY ... TO STDOUT``), loaded into a NEW DuckDB file next to the mirror, which is
then renamed over it. A reader therefore sees the previous mirror or the new one, never half
of one; a reader holding the old file open keeps reading the old inode. The file also holds
``main._mirror``: when it was built, from what, and each table's row count.

If an analyst holds the mirror open read-write, it is not replaced (a writer's WAL would not
belong to the new file): the result says ``skipped`` and names the holder; the next gold
change tries again. ``duckdb`` from PyPI; the health check opens the same file read-only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from psycopg import sql as pgsql

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.maintenance import services
from reliable_etl.maintenance.services import describe, service_down
from reliable_etl.ops.logs import PipelineLogger

JOB = "analytics_mirror"
LOCK_HELD = re.compile(r"Conflicting lock is held")


@dataclass
class MirrorResult:
    status: str  # success | skipped | failed
    path: str
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    postgres_available: bool = True
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def duckdb_type(data_type: str, precision: int | None, scale: int | None) -> str:
    """The DuckDB type of a PostgreSQL column (information_schema spelling)."""
    simple = {
        "smallint": "SMALLINT",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "real": "FLOAT",
        "double precision": "DOUBLE",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp without time zone": "TIMESTAMP",
        "timestamp with time zone": "TIMESTAMPTZ",
        "uuid": "UUID",
    }
    if data_type in simple:
        return simple[data_type]
    if data_type == "numeric":
        return f"DECIMAL({precision},{scale or 0})" if precision and precision <= 38 else "DOUBLE"
    return "VARCHAR"  # text, varchar, json, arrays: as PostgreSQL prints them


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def writer_holding(path: Path) -> str | None:
    """The error DuckDB gives when another process holds ``path`` read-write, else None."""
    import duckdb

    if not path.exists():
        return None
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.IOException as exc:
        if LOCK_HELD.search(str(exc)):
            return str(exc).splitlines()[0]
        raise
    return None


def _export(tables: dict[str, list[tuple]], workdir: Path, log: PipelineLogger) -> dict[str, int]:
    """COPY every table to a CSV file in ``workdir`` from one snapshot; returns the row counts."""
    counts: dict[str, int] = {}
    with db.connect(application_name="etl analytics mirror") as conn:
        conn.execute("set transaction isolation level repeatable read, read only")
        conn.execute("set local timezone = 'UTC'")
        for name in tables:
            schema, table = name.split(".", 1)
            target = workdir / f"{name}.csv"
            query = pgsql.SQL("copy (select * from {}) to stdout (format csv)").format(pgsql.Identifier(schema, table))
            with conn.cursor() as cur:
                with target.open("wb") as out, cur.copy(query) as copy:
                    for chunk in copy:
                        out.write(chunk)
                counts[name] = cur.rowcount
            log.info("mirror: read %s (%d rows)", name, counts[name])
        conn.rollback()
    return counts


def _build(tables: dict[str, list[tuple]], counts: dict[str, int], workdir: Path, target: Path) -> None:
    import duckdb

    with duckdb.connect(str(target)) as con:
        for name, columns in tables.items():
            schema, table = name.split(".", 1)
            con.execute(f"create schema if not exists {_quoted(schema)}")
            ddl = ", ".join(f"{_quoted(col)} {duckdb_type(t, p, s)}" for col, t, p, s in columns)
            qualified = f"{_quoted(schema)}.{_quoted(table)}"
            con.execute(f"create table {qualified} ({ddl})")
            if not counts[name]:
                continue
            csv_path = str(workdir / f"{name}.csv").replace("'", "''")
            # PostgreSQL's CSV: a quoted empty field is an empty string, an unquoted one NULL
            con.execute(
                f"copy {qualified} from '{csv_path}' (format csv, header false, auto_detect false,"
                " delim ',', quote '\"', escape '\"', allow_quoted_nulls false)"
            )
        con.execute(
            "create table main._mirror (mirrored_at timestamptz, source varchar, table_name varchar, row_count bigint)"
        )
        now = dt.datetime.now(dt.UTC)
        source = db.describe_warehouse()
        con.executemany(
            "insert into main._mirror values (?, ?, ?, ?)", [(now, source, name, n) for name, n in counts.items()]
        )
        con.execute("checkpoint")


def mirror_gold(
    *, run_id: str | None = None, path: Path | None = None, log: PipelineLogger | None = None
) -> MirrorResult:
    """Rebuild the DuckDB mirror from the warehouse and swap it in atomically."""
    cfg = settings()
    log = log or services.logger(JOB, run_id)
    path = Path(path or cfg.analytics_path)
    started = time.monotonic()
    result = MirrorResult("success", str(path))
    if holder := writer_holding(path):
        result.status = "skipped"
        result.errors.append(f"{path.name} is held open read-write by another process, not replaced: {holder}")
        log.warning("mirror: %s", result.errors[-1])
        return result
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with db.connect(autocommit=True, application_name="etl analytics mirror") as conn:
            rows = db.run_sql(conn, "maintenance/select_mirror_columns", {"schemas": list(cfg.analytics_schemas)})
            tables: dict[str, list[tuple]] = {}
            for schema, table, column, data_type, precision, scale in rows.fetchall():
                tables.setdefault(f"{schema}.{table}", []).append((column, data_type, precision, scale))
        with tempfile.TemporaryDirectory(prefix=".mirror-", dir=path.parent) as tmp:
            workdir = Path(tmp)
            counts = _export(tables, workdir, log)
            building = path.with_name(f".{path.name}.{os.getpid()}.building")
            building.unlink(missing_ok=True)
            try:
                _build(tables, counts, workdir, building)
                with contextlib.suppress(FileNotFoundError):  # a crashed writer's WAL belongs to the old file
                    path.with_name(path.name + ".wal").unlink()
                os.replace(building, path)
            finally:
                building.unlink(missing_ok=True)
                building.with_name(building.name + ".wal").unlink(missing_ok=True)
    except Exception as exc:
        if not service_down(exc):
            raise
        result.status, result.postgres_available = "failed", False
        result.errors.append(f"postgres: {describe(exc)}")
        log.warning("mirror: the warehouse is unavailable, the previous mirror stays: %s", describe(exc))
        return result
    result.tables = counts
    result.duration_s = round(time.monotonic() - started, 3)
    log.info(
        "mirror: %s rebuilt with %d tables, %d rows in %.1f s",
        path,
        len(counts),
        sum(counts.values()),
        result.duration_s,
        metadata={"tables": counts},
    )
    return result
