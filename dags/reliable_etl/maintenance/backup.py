"""backup_critical_data: the ops and gold schemas (``ETL_BACKUP_SCHEMAS``) with ``pg_dump -Fc``, verified.

One run writes ``ETL_BACKUP_DIR/backup_<YYYYmmddTHHMMSSZ>/`` holding ``backup.dump`` (one
``pg_dump -Fc`` archive of every schema: ``pg_restore -n SCHEMA`` takes one of them out) and
``manifest.json``: the tables with their row counts, the file's size and sha256, the server's
and pg_dump's versions. The dump and the counts read ONE snapshot (exported by a repeatable-read
transaction, ``pg_dump --snapshot``), so the counts are the archive's. The directory is built under a
hidden ``.partial`` name and renamed when complete and verified, so a listed backup is always
whole; the newest ``ETL_BACKUP_KEEP`` are kept.

Verification (also ``etl backup restore`` before it restores): each file's sha256 against the
manifest, then ``pg_restore --list`` (it refuses a damaged archive) and every table of the
manifest present in its archive's table of contents.

Binaries: those whose major version matches the server's (pg_dump refuses a newer server and
an archive of a newer pg_dump cannot be read by an older pg_restore): ``ETL_PG_BIN_DIR`` if set,
else pgserver's when installed (the bench's embedded PostgreSQL 16), Debian's ``/usr/lib/postgresql/N/bin``
and ``PATH``; the nearest newer major when there is no exact match. Passwords go to the
tools through ``PGPASSWORD``, never on the command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.errors import BadInputError
from reliable_etl.maintenance import services
from reliable_etl.maintenance.services import describe, service_down
from reliable_etl.ops.logs import PipelineLogger, redact

JOB = "backup_critical_data"
MANIFEST = "manifest.json"
ARCHIVE = "backup.dump"
PREFIX = "backup_"
# pg_dump / pg_restore messages that say the server is unreachable, not that the dump is wrong
CONNECTION_LOST = re.compile(
    r"connection to server|server closed the connection|terminating connection|could not connect"
    r"|the database system is (starting up|shutting down|in recovery)|no connection to the server",
    re.IGNORECASE,
)


@dataclass
class BackupResult:
    """The seed's shape: ``{status, backup_location, files_created, postgres_available, errors}``."""

    status: str = "success"  # success | failed
    backup_location: str | None = None
    files_created: list[str] = field(default_factory=list)
    postgres_available: bool = True
    errors: list[str] = field(default_factory=list)
    tables: int = 0
    rows: int = 0
    size_bytes: int = 0
    duration_s: float = 0.0
    removed: list[str] = field(default_factory=list)  # older backups beyond ETL_BACKUP_KEEP

    def as_dict(self) -> dict:
        return asdict(self)


class ToolFailed(RuntimeError):
    """pg_dump or pg_restore exited non-zero; ``connection_lost`` when its message says the server is gone."""

    def __init__(self, tool: str, stderr: str) -> None:
        self.connection_lost = bool(CONNECTION_LOST.search(stderr))
        message = " ".join(redact(stderr).split())[:800] or "no message"
        super().__init__(f"{tool} failed: {message}")


# --- binaries -------------------------------------------------------------------------------


def _major(binary: Path) -> int:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
    match = re.search(r"\s(\d+)(?:\.\d+)?", out)
    if not match:
        raise BadInputError(f"{binary} --version printed {out.strip()!r}: not a PostgreSQL client")
    return int(match.group(1))


def _pgserver_binaries() -> list[Path]:
    """pgserver's own binaries, when that package is installed (the bench's embedded PostgreSQL 16)."""
    spec = importlib.util.find_spec("pgserver")
    return [Path(spec.origin).parent / "pginstall" / "bin"] if spec and spec.origin else []


@cache
def available_binaries(bin_dir: Path | None = None) -> dict[int, Path]:
    """``{major: directory}`` of the pg_dump + pg_restore pairs found (first found per major wins)."""
    if bin_dir:
        candidates = [bin_dir]
    else:
        candidates = _pgserver_binaries()
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        candidates += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    found: dict[int, Path] = {}
    for directory in candidates:
        if (directory / "pg_dump").is_file() and (directory / "pg_restore").is_file():
            found.setdefault(_major(directory / "pg_dump"), directory)
    return found


def binaries_for(major: int, *, with_major: bool = False):
    """The directory of the pg_dump/pg_restore for a server (or archive) of this major version.

    ``with_major``: ``(their major version, directory)``.
    """
    found = available_binaries(settings().pg_bin_dir)
    chosen = major if major in found else min((m for m in found if m > major), default=None)
    if chosen is not None:
        return (chosen, found[chosen]) if with_major else found[chosen]
    where = (
        f"ETL_PG_BIN_DIR={settings().pg_bin_dir}" if settings().pg_bin_dir else "pgserver, /usr/lib/postgresql, PATH"
    )
    raise BadInputError(
        f"no pg_dump/pg_restore of version {major} or newer in {where} (found: {sorted(found) or 'none'});"
        f" install postgresql-client-{major} or set ETL_PG_BIN_DIR"
    )


# --- connections --------------------------------------------------------------------------------


def warehouse_params() -> dict[str, str]:
    """libpq parameters of the ``warehouse`` Connection (host may be a socket directory)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(db.ensure_warehouse())
    params = {
        "host": urllib.parse.unquote(conn.host or "localhost"),
        "port": str(conn.port or 5432),
        "user": conn.login or "postgres",
        "dbname": conn.schema or "postgres",
    }
    if conn.password:
        params["password"] = conn.password
    if sslmode := conn.extra_dejson.get("sslmode"):
        params["sslmode"] = sslmode
    return params


def uri_params(uri: str) -> dict[str, str]:
    """libpq parameters of a URI or ``key=value`` string (``etl backup restore --into``)."""
    try:
        return {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(uri).items()}
    except psycopg.ProgrammingError as exc:
        raise BadInputError(f"--into: not a PostgreSQL URI or connection string: {redact(str(exc))}") from exc


def _tool_target(params: dict[str, str]) -> tuple[str, dict[str, str]]:
    """A connection string without the password, and the environment carrying it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    public = {k: v for k, v in params.items() if k != "password"}
    if "password" in params:
        env["PGPASSWORD"] = params["password"]
    return psycopg.conninfo.make_conninfo(**public), env


def _run_tool(binary: Path, args: list[str], env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, check=False, timeout=timeout)
    if proc.returncode != 0:
        raise ToolFailed(binary.name, proc.stderr or proc.stdout)
    return proc.stdout


# --- manifest and verification --------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{directory} is not a backup: no {MANIFEST}") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from None


def verify_backup(directory: Path) -> list[str]:
    """What is wrong with a backup ([] when it is whole): checksums, archive readability, tables listed."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    bin_dir = binaries_for(int(manifest["pg_dump_major"]))
    problems = []
    for entry in manifest["files"]:
        path = directory / entry["file"]
        if not path.is_file():
            problems.append(f"{entry['file']}: missing")
            continue
        if (actual := sha256_of(path)) != entry["sha256"]:
            problems.append(f"{entry['file']}: sha256 {actual} does not match the manifest's {entry['sha256']}")
            continue
        try:
            toc = _run_tool(bin_dir / "pg_restore", ["--list", str(path)], dict(os.environ), timeout=300)
        except ToolFailed as exc:
            problems.append(f"{entry['file']}: {exc}")
            continue
        listed = set(re.findall(r"TABLE DATA (\S+) (\S+) ", toc))
        for table in manifest["tables"]:
            if table["schema"] in entry["schemas"] and (table["schema"], table["table"]) not in listed:
                problems.append(f"{entry['file']}: table {table['schema']}.{table['table']} is not in the archive")
    return problems


# --- backup -----------------------------------------------------------------------------------------


def list_backups(root: Path | None = None) -> list[dict]:
    """Complete backups, newest first: directory, created_at, schemas, tables, rows, size."""
    root = Path(root or settings().backup_dir)
    found = []
    for directory in sorted(root.glob(f"{PREFIX}*"), reverse=True):
        if (directory / MANIFEST).is_file():
            manifest = read_manifest(directory)
            found.append(
                {
                    "directory": str(directory),
                    "created_at": manifest["created_at"],
                    "schemas": manifest["schemas"],
                    "tables": len(manifest["tables"]),
                    "rows": sum(t["rows"] for t in manifest["tables"]),
                    "size_bytes": sum(f["size_bytes"] for f in manifest["files"]),
                    "server_version": manifest["server_version"],
                }
            )
    return found


def _prune(root: Path, keep: int, log: PipelineLogger) -> list[str]:
    removed = []
    for entry in list_backups(root)[keep:]:
        shutil.rmtree(entry["directory"])
        removed.append(entry["directory"])
        log.info("backup: removed %s (more than %d kept)", entry["directory"], keep)
    for partial in root.glob(f".{PREFIX}*.partial"):  # left by a crash
        shutil.rmtree(partial, ignore_errors=True)
    return removed


def _counts(conn: psycopg.Connection, schemas: list[str]) -> list[dict]:
    tables = db.run_sql(conn, "maintenance/select_backup_tables", {"schemas": schemas}).fetchall()
    return [
        {
            "schema": schema,
            "table": table,
            "rows": conn.execute(
                pgsql.SQL("select count(*) from {}").format(pgsql.Identifier(schema, table))
            ).fetchone()[0],
        }
        for schema, table in tables
    ]


def _dump(directory: Path, schemas: list[str], step: Callable[[str], None], log: PipelineLogger) -> dict:
    """Dump the schemas from one exported snapshot into one archive; returns the manifest (not yet written).

    One pg_dump for all the schemas (each pg_dump spends most of its first 100 ms reading the
    catalog; ``pg_restore -n SCHEMA`` restores one of them); the row counts are taken
    meanwhile, in the exporting transaction itself, so they are the archive's.
    """
    cfg = settings()
    target, env = _tool_target(warehouse_params())
    path = directory / ARCHIVE
    with db.connect(application_name=f"etl {JOB}") as conn:
        conn.execute("set transaction isolation level repeatable read, read only")
        snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
        version_num, version = db.run_sql(conn, "maintenance/select_server_version").fetchone()
        major, bin_dir = binaries_for(version_num // 10000, with_major=True)
        started = time.monotonic()
        step("dump")
        args = [
            str(bin_dir / "pg_dump"),
            "--format=custom",
            f"--snapshot={snapshot}",
            *(f"--schema={schema}" for schema in schemas),
            f"--lock-wait-timeout={cfg.lock_timeout_ms}",  # never queue behind a writer's lock
            f"--file={path}",
            f"--dbname={target}",
        ]
        dump = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            step("counts")
            tables = _counts(conn, schemas)
        finally:
            _, err = dump.communicate(timeout=cfg.statement_timeout_ms / 1000 * 6)
        if dump.returncode:
            raise ToolFailed("pg_dump", err.decode(errors="replace"))
        conn.rollback()
    files = [{"file": path.name, "schemas": schemas, "size_bytes": path.stat().st_size, "sha256": sha256_of(path)}]
    log.info(
        "backup: %s dumped (%d bytes) in %.1f s", ", ".join(schemas), files[0]["size_bytes"], time.monotonic() - started
    )
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "source": db.describe_warehouse(),
        "server_version": version,
        "server_version_num": version_num,
        "pg_dump_major": major,
        "pg_dump": str(bin_dir / "pg_dump"),
        "schemas": schemas,
        "files": files,
        "tables": tables,
    }


def backup_critical_data(
    *,
    run_id: str | None = None,
    log: PipelineLogger | None = None,
    schemas: list[str] | None = None,
    root: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BackupResult:
    """Dump, describe, verify, then publish the backup directory; keep the newest ETL_BACKUP_KEEP."""
    cfg = settings()
    log = log or services.logger(JOB, run_id)
    step = progress or (lambda _name: None)
    schemas = list(schemas or cfg.backup_schemas)
    root = Path(root or cfg.backup_dir)
    started = time.monotonic()
    name = f"{PREFIX}{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}"
    partial = root / f".{name}.partial"
    result = BackupResult()
    partial.mkdir(parents=True)
    try:
        manifest = _dump(partial, schemas, step, log)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        step("verify")
        if problems := verify_backup(partial):
            raise RuntimeError(f"the new backup does not verify: {'; '.join(problems)}")
        final = root / name
        partial.rename(final)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        lost = isinstance(exc, ToolFailed) and exc.connection_lost
        if not (lost or service_down(exc)):
            raise
        result.status, result.postgres_available = "failed", False
        result.errors.append(f"postgres: {describe(exc)}")
        result.duration_s = round(time.monotonic() - started, 3)
        log.warning("backup: the warehouse is unavailable, no backup made: %s", describe(exc))
        return result
    result.backup_location = str(final)
    result.files_created = [f["file"] for f in manifest["files"]] + [MANIFEST]
    result.tables = len(manifest["tables"])
    result.rows = sum(t["rows"] for t in manifest["tables"])
    result.size_bytes = sum(f["size_bytes"] for f in manifest["files"])
    result.removed = _prune(root, cfg.backup_keep, log)
    result.duration_s = round(time.monotonic() - started, 3)
    log.info(
        "backup: %s: %d tables, %d rows, %d bytes in %.1f s",
        final,
        result.tables,
        result.rows,
        result.size_bytes,
        result.duration_s,
        metadata={"backup_location": str(final), "files": result.files_created},
    )
    return result


# --- restore ----------------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    directory: str
    target: str  # the target without its password
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows after the restore

    def as_dict(self) -> dict:
        return asdict(self)


def restore_backup(directory: Path, into: str, *, log: PipelineLogger | None = None) -> RestoreResult:
    """Verify, then restore every archive into the database ``into`` (each file in one transaction).

    The target should not hold the schemas yet (a scratch database); the row counts after the
    restore are checked against the manifest.
    """
    log = log or services.logger("backup_restore", None)
    directory = Path(directory)
    if problems := verify_backup(directory):
        raise BadInputError(f"{directory} does not verify, nothing restored: {'; '.join(problems)}")
    manifest = read_manifest(directory)
    params = uri_params(into)
    target, env = _tool_target(params)
    with psycopg.connect(into, autocommit=True) as conn:
        version_num = conn.execute("select current_setting('server_version_num')::integer").fetchone()[0]
    bin_dir = binaries_for(max(version_num // 10000, int(manifest["pg_dump_major"])))
    for entry in manifest["files"]:
        log.info("restore: %s into %s", entry["file"], target)
        _run_tool(
            bin_dir / "pg_restore",
            [
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={target}",
                str(directory / entry["file"]),
            ],
            env,
            timeout=settings().statement_timeout_ms / 1000 * 6,
        )
    result = RestoreResult(str(directory), target)
    with psycopg.connect(into, autocommit=True) as conn:
        for table in manifest["tables"]:
            ident = pgsql.Identifier(table["schema"], table["table"])
            result.tables[f"{table['schema']}.{table['table']}"] = conn.execute(
                pgsql.SQL("select count(*) from {}").format(ident)
            ).fetchone()[0]
    expected = {f"{t['schema']}.{t['table']}": t["rows"] for t in manifest["tables"]}
    wrong = [
        f"{name}: {rows} rows, the manifest says {expected[name]}"
        for name, rows in result.tables.items()
        if rows != expected[name]
    ]
    if wrong:
        raise RuntimeError(f"restored into {target}, but the row counts differ: {'; '.join(wrong)}")
    log.info("restore: %s restored into %s (%d tables)", directory, target, len(result.tables))
    return result
