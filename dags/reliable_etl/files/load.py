"""Load a night's fixed-width files: one file is one unit of work, all or nothing.

For each file: the same bytes as the last load of its tables are a no-op; otherwise it is
parsed and validated (``reliable_etl.files.parser``); above the reject threshold nothing of it is
loaded and the previous data stays. Else, in ONE transaction under each table's advisory
lock: the rows are copied into a new table ``files._load_<table>``, checked for duplicate
primary keys, the current ``files.<table>`` is moved to ``files_snapshots`` as a snapshot
(renamed, not copied), and the new table takes its name. Before the commit each table's row
count is audited against the previous night's (``row_count_drift``, ``ops.check_results``):
beyond ``ETL_FILES_DRIFT_TOLERANCE`` it is a warning (loaded and reported), or with
``ETL_FILES_DRIFT_SEVERITY=error`` the file is refused. Snapshots beyond
``ETL_FILES_KEEP_SNAPSHOTS`` are dropped in the same transaction. After the commit the file
moves to ``<archive>/<YYYY-MM-DD>/``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql as pgsql
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from reliable_etl import db, failpoints
from reliable_etl.config import settings
from reliable_etl.errors import AuditFailedError, BadInputError, ConfigurationError
from reliable_etl.files import PIPELINE
from reliable_etl.files.layouts import SOURCE_LINE, FileLayout, Relationships, load_relationships
from reliable_etl.files.parser import ParsedFile, ParsedTable, Reject, parse_file
from reliable_etl.ops import checks as audit
from reliable_etl.ops import holders
from reliable_etl.ops.logs import PipelineLogger, redact
from reliable_etl.ops.runs import close_dead_runs_of, record_run
from reliable_etl.ops.units import unit_of_work
from reliable_etl.retry import call_with_retry

SCHEMA, SNAPSHOTS = "files", "files_snapshots"


class FileRefusedError(BadInputError):
    """A file whose share of rejected records is above the threshold: nothing of it was loaded."""


@dataclass
class FileResult:
    """What happened to one file: the item a run report lists."""

    file: str
    tables: list[str]
    status: str  # loaded | unchanged | refused | failed | would load | would refuse
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    error_rate: float = 0.0
    snapshots: list[str] = field(default_factory=list)
    error: str | None = None
    archived_to: str | None = None
    warnings: list[str] = field(default_factory=list)  # failed warning checks: loaded, reported

    def as_dict(self) -> dict:
        return asdict(self)


def _transient_io(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | IsADirectoryError)


# Directory and file access on network mounts fails now and then: three tries, backing off.
io_retry = retry(
    retry=retry_if_exception(_transient_io),
    wait=wait_random_exponential(multiplier=0.5, max=5),
    stop=stop_after_attempt(3),
    reraise=True,
)


@io_retry
def list_directory(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).iterdir() if p.is_file())


def find_files(relationships: Relationships, drop_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Which file each layout's name matches tonight, and the names with no file.

    A name (or glob) may match one file per night: two would both replace the same tables.
    """
    present = list_directory(drop_dir) if Path(drop_dir).is_dir() else []
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in dict.fromkeys(layout.filename for layout in relationships.layouts):
        matches = [p for p in present if relationships.layouts_for(p.name) and _matches(name, p.name, relationships)]
        if len(matches) > 1:
            raise BadInputError(
                f"{drop_dir}: {len(matches)} files match {name!r} ({', '.join(p.name for p in matches)}); "
                "one per night is expected"
            )
        if matches:
            found[name] = matches[0]
        else:
            missing.append(name)
    return found, missing


def _matches(name: str, file_name: str, relationships: Relationships) -> bool:
    return any(layout.filename == name for layout in relationships.layouts_for(file_name))


def load_directory(
    relationships_path: Path | None = None,
    drop_dir: Path | None = None,
    *,
    run_id: str,
    threshold: float | None = None,
    archive_dir: Path | None = None,
    dry_run: bool = False,
) -> list[FileResult]:
    """Every declared file present in ``drop_dir``, each its own unit of work (``etl files load``)."""
    cfg = settings()
    relationships = load_relationships(relationships_path or cfg.files_relationships)
    drop_dir = Path(drop_dir or cfg.files_drop_dir)
    found, missing = find_files(relationships, drop_dir)
    log = PipelineLogger(PIPELINE, run_id, stage="files")
    if missing:
        log.warning("%s: no file for %s", drop_dir, ", ".join(missing), metadata={"missing": missing})
    results = []
    for path in found.values():
        try:
            results.append(
                load_file(
                    path, relationships, run_id=run_id, threshold=threshold, archive_dir=archive_dir, dry_run=dry_run
                )
            )
        except BadInputError as exc:
            results.append(_failed(path, relationships, exc))
    return results


def _failed(path: Path, relationships: Relationships, exc: BaseException) -> FileResult:
    status = "refused" if isinstance(exc, FileRefusedError | AuditFailedError) else "failed"
    tables = sorted({layout.table_name for layout in relationships.layouts_for(path.name)})
    return FileResult(path.name, tables, status, error=str(exc), **getattr(exc, "counts", {}))


def load_file(
    path: Path,
    relationships: Relationships,
    *,
    run_id: str,
    threshold: float | None = None,
    archive_dir: Path | None = None,
    dry_run: bool = False,
) -> FileResult:
    """Load one file (see the module docstring); BadInputError, with nothing loaded, when it cannot be."""
    cfg = settings()
    threshold = cfg.files_reject_threshold if threshold is None else threshold
    archive_dir = Path(archive_dir or cfg.files_archive_dir)
    layouts = relationships.layouts_for(path.name)
    if not layouts:
        raise BadInputError(f"{path}: no layout in {relationships.path.name} matches this file name")
    tables = sorted({layout.table_name for layout in layouts})
    log = PipelineLogger(PIPELINE, run_id, stage="load")
    try:
        parsed = parse_file(path, layouts)
    except BadInputError as exc:
        _record(run_id, path.name, None, tables, "failed", error=str(exc))
        log.error("%s", exc, metadata={"file": path.name})
        raise
    counts = {"records": parsed.records, "rejected": len(parsed.rejects), "error_rate": round(parsed.error_rate, 6)}
    if _already_loaded(parsed, tables):
        log.info("%s: the same bytes are loaded already (sha256 %s): nothing to do", path.name, parsed.sha256[:12])
        if not dry_run:
            _record(run_id, path.name, parsed, tables, "unchanged")
            archived = _archive_and_note(path, archive_dir, run_id)
        return FileResult(path.name, tables, "unchanged", **counts, archived_to=None if dry_run else archived)
    if parsed.error_rate > threshold:
        exc = FileRefusedError(_refusal(parsed, threshold))
        exc.counts = counts  # type: ignore[attr-defined]
        if dry_run:
            return FileResult(path.name, tables, "would refuse", **counts, error=str(exc))
        _record_rejects_alone(run_id, parsed, tables)
        log.error("%s", exc, metadata={"file": path.name, **counts})
        raise exc
    loaded = sum(t.rows for t in parsed.tables)
    if dry_run:
        return FileResult(path.name, tables, "would load", **counts, loaded=loaded)
    try:
        outcome = call_with_retry(_load_once, parsed, run_id=run_id, log=log)
    except AuditFailedError as exc:
        _record(run_id, path.name, parsed, tables, "refused", error=str(exc))
        log.error("%s", exc, metadata={"file": path.name, **counts})
        raise
    except BadInputError as exc:
        _record(run_id, path.name, parsed, tables, "failed", error=str(exc))
        raise
    if outcome is None:  # another run loaded these bytes while this one waited for the tables' locks
        log.info("%s: the same bytes were loaded meanwhile by another run: nothing to do", path.name)
        _record(run_id, path.name, parsed, tables, "unchanged")
        archived = _archive_and_note(path, archive_dir, run_id) if path.exists() else None
        return FileResult(path.name, tables, "unchanged", **counts, archived_to=archived)
    snapshots, warnings = outcome
    failpoints.reach("files.committed")  # the chaos suite: committed, the file not yet archived
    archived = _archive_and_note(path, archive_dir, run_id)
    log.info(
        "%s: %d records, %d loaded into %s, %d rejected; previous contents kept as %s",
        path.name,
        parsed.records,
        loaded,
        ", ".join(tables),
        len(parsed.rejects),
        ", ".join(snapshots) or "nothing (first load)",
        metadata={"file": path.name, "tables": tables, "snapshots": snapshots, **counts},
    )
    return FileResult(
        path.name,
        tables,
        "loaded",
        **counts,
        loaded=loaded,
        snapshots=snapshots,
        archived_to=archived,
        warnings=warnings,
    )


def _already_loaded(parsed: ParsedFile, tables: list[str]) -> bool:
    with db.connect(autocommit=True, application_name="etl files") as conn:
        return all(
            db.run_sql(conn, "files/select_loaded_file", {"table_name": t, "sha256": parsed.sha256}).fetchone()
            for t in tables
        )


def _refusal(parsed: ParsedFile, threshold: float) -> str:
    kinds: dict[str, list[Reject]] = {}
    for reject in parsed.rejects:  # grouped by the reason without its values
        kinds.setdefault(re.sub(r"'[^']*'|\d+", "_", reject.reason), []).append(reject)
    top = "; ".join(
        f"{len(group)} x {group[0].reason} (line {group[0].line}, ...)"
        for group in sorted(kinds.values(), key=len, reverse=True)[:3]
    )
    return (
        f"{parsed.path}: {len(parsed.rejects)} of {parsed.records} records rejected "
        f"({parsed.error_rate:.1%} > {threshold:.1%} allowed); nothing of the file was loaded, the previous "
        f"data stays. Most frequent: {top}"
    )


def _load_once(parsed: ParsedFile, *, run_id: str, log: PipelineLogger) -> tuple[list[str], list[str]] | None:
    """The file's tables swapped in, with their snapshots, audit and ledger, in ONE transaction.

    Returns the snapshots taken and the failed warning checks; None, with nothing written, when
    these bytes are found loaded once the tables' locks are ours.
    """
    tables = sorted({t.layout.table_name for t in parsed.tables})
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    snapshots: dict[str, str | None] = {}  # table -> the snapshot of its previous contents
    with unit_of_work(PIPELINE, run_id, parsed.path.name, log=log, lock=f"files:file:{parsed.path.name}") as unit:
        conn = unit.conn
        for table in tables:  # sorted: two files sharing tables lock them in the same order
            db.advisory_lock(conn, f"files:table:{table}")
        if all(
            db.run_sql(conn, "files/select_loaded_file", {"table_name": t, "sha256": parsed.sha256}).fetchone()
            for t in tables
        ):
            return None
        with unit.stage("stage") as cp:
            for table in tables:
                _stage(conn, table, [t for t in parsed.tables if t.layout.table_name == table], parsed.path)
            cp.metadata.update(rows=sum(t.rows for t in parsed.tables), tables=tables)
        failpoints.reach("files.staged")  # the crash tests: staged, not swapped
        with unit.stage("swap") as cp:
            for table in tables:
                snapshots[table] = _swap(conn, table, stamp, reason=f"before {parsed.path.name} (run {run_id})")
                _prune(conn, table)
            cp.metadata.update(snapshots=snapshots)
        failpoints.reach("files.swapped")
        with unit.stage("audit") as cp:
            verdicts = {
                table: _audit_drift(conn, parsed, table, snapshots[table], run_id=run_id, log=log) for table in tables
            }
            cp.metadata.update(checks={table: result.label for table, result in verdicts.items()})
        with unit.stage("ledger"):
            _write_rejects(conn, run_id, parsed, tables)
            for table in tables:
                rows = sum(t.rows for t in parsed.tables if t.layout.table_name == table)
                db.run_sql(
                    conn,
                    "files/insert_file_load",
                    _ledger_row(run_id, parsed, table, "loaded", loaded=rows, snapshot=snapshots[table]),
                )
        failpoints.reach("files.recorded")  # all written, not committed
    warnings = [f"{table}: {result.name} {result.label}" for table, result in verdicts.items() if not result.passed]
    audit.warn_failed(verdicts.values(), unit_key=parsed.path.name, log=log)
    return [s for s in snapshots.values() if s], warnings


def _audit_drift(
    conn: psycopg.Connection, parsed: ParsedFile, table: str, snapshot: str | None, *, run_id: str, log: PipelineLogger
) -> audit.CheckResult:
    """The table's row count against the previous night's, recorded with the load (or apart, if it fails it)."""
    cfg = settings()
    try:
        check = audit.Check("row_count_drift", "files/check_row_count_drift", cfg.files_drift_severity)
    except ValueError as exc:
        raise ConfigurationError(f"ETL_FILES_DRIFT_SEVERITY: {exc}") from None
    rows = sum(t.rows for t in parsed.tables if t.layout.table_name == table)
    params = {"snapshot": snapshot, "rows": rows, "tolerance": cfg.files_drift_tolerance}
    where = {"pipeline": PIPELINE, "target": f"{SCHEMA}.{table}", "unit_key": parsed.path.name, "run_id": run_id}
    result = audit.run_check(conn, check, db.load_sql(check.sql), params, where=f"{parsed.path.name} -> {table}")
    try:
        audit.raise_on_errors([result], what=f"{parsed.path} -> {table}")
    except AuditFailedError:
        audit.record_rolled_back([result], **where, log=log)  # the unit's transaction is about to roll back
        raise
    audit.record(conn, [result], **where, published=True)
    return result


def _identifier(schema: str, name: str) -> pgsql.Identifier:
    return pgsql.Identifier(schema, name)


def _columns(layout: FileLayout) -> list[str]:
    return [target for target, _ in layout.target_columns] + [SOURCE_LINE]


def _stage(conn: psycopg.Connection, table: str, parts: list[ParsedTable], path: Path) -> None:
    """files._load_<table>: the layout's columns, the parsed rows, the primary key."""
    layout = parts[0].layout
    staging = _identifier(SCHEMA, f"_load_{table}"[:63])
    definition = pgsql.SQL(", ").join(
        [pgsql.SQL("{} {}").format(pgsql.Identifier(t), pgsql.SQL(c.sql_type)) for t, c in layout.target_columns]
        + [pgsql.SQL("{} integer not null").format(pgsql.Identifier(SOURCE_LINE))]
    )
    _check_existing(conn, table, layout)
    conn.execute(db.composed_sql("files/create_table", table=staging, columns=definition))
    columns = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in _columns(layout))
    with conn.cursor() as cur, cur.copy(db.composed_sql("files/copy_rows", table=staging, columns=columns)) as copy:
        for part in parts:
            copy.write(part.copy_data)
    if layout.primary_key:
        key = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in layout.primary_key)
        try:
            with conn.transaction():  # a savepoint: the index build is the check; the listing only on failure
                conn.execute(db.composed_sql("files/add_primary_key", table=staging, key=key))
        except psycopg.errors.UniqueViolation:
            duplicates = conn.execute(db.composed_sql("files/select_duplicate_keys", table=staging, key=key)).fetchall()
            listed = "; ".join(f"({value}) on lines {', '.join(map(str, lines))}" for value, lines in duplicates)
            raise BadInputError(
                f"{path}: duplicate primary key ({', '.join(layout.primary_key)}) of {table}: {listed}; "
                "nothing of the file was loaded"
            ) from None


def _check_existing(conn: psycopg.Connection, table: str, layout: FileLayout) -> None:
    """A table loaded before must have the layout's columns: a changed layout needs a decision."""
    existing = db.run_sql(conn, "files/select_table_columns", {"schema": SCHEMA, "table": table}).fetchall()
    declared = [(t, c.sql_type) for t, c in layout.target_columns] + [(SOURCE_LINE, "integer")]
    if existing and [(name, _base_type(kind)) for name, kind in existing] != declared:
        raise BadInputError(
            f"table {SCHEMA}.{table} has columns {existing}, the layout {layout.where} declares {declared}: "
            "rename or drop the table, or fix the layout"
        )


def _base_type(data_type: str) -> str:
    return {"character varying": "text"}.get(data_type, data_type)


def _swap(conn: psycopg.Connection, table: str, stamp: str, *, reason: str) -> str | None:
    """Move files.<table> to the snapshots (if it exists) and give the staged table its name."""
    snapshot = swap_out(conn, table, stamp, reason=reason)
    conn.execute(
        db.composed_sql(
            "files/rename_table", table=_identifier(SCHEMA, f"_load_{table}"[:63]), new_name=pgsql.Identifier(table)
        )
    )
    name_primary_key(conn, SCHEMA, table)
    return snapshot


def name_primary_key(conn: psycopg.Connection, schema: str, table: str) -> None:
    """Name a table's primary key after the table: index names are unique per schema, and tables
    move between schemas here (a snapshot keeps the key of the table it was)."""
    row = db.run_sql(conn, "files/select_primary_key_name", {"schema": schema, "table": table}).fetchone()
    wanted = f"{table}_pkey"[:63]
    if row and row[0] != wanted:
        conn.execute(
            db.composed_sql(
                "files/rename_constraint",
                table=_identifier(schema, table),
                old=pgsql.Identifier(row[0]),
                new=pgsql.Identifier(wanted),
            )
        )


def swap_out(conn: psycopg.Connection, table: str, stamp: str, *, reason: str) -> str | None:
    """files.<table>, if it exists, becomes snapshot <table>__<stamp> (renamed, not copied)."""
    if not db.run_sql(conn, "files/select_table_columns", {"schema": SCHEMA, "table": table}).fetchone():
        return None
    snapshot = f"{table[:34]}__{stamp}"  # 57 characters at most: room for "_pkey"
    rows = conn.execute(db.composed_sql("files/count_rows", table=_identifier(SCHEMA, table))).fetchone()[0]
    conn.execute(
        db.composed_sql(
            "files/move_to_snapshots",
            table=_identifier(SCHEMA, table),
            moved=_identifier(SNAPSHOTS, table),
            snapshot=pgsql.Identifier(snapshot),
        )
    )
    name_primary_key(conn, SNAPSHOTS, snapshot)
    db.run_sql(
        conn, "files/insert_snapshot", {"snapshot": snapshot, "table_name": table, "reason": reason, "row_count": rows}
    )
    return snapshot


def _prune(conn: psycopg.Connection, table: str) -> None:
    """Keep the newest ETL_FILES_KEEP_SNAPSHOTS snapshots of the table; drop the rest."""
    kept = db.run_sql(conn, "files/select_snapshots", {"table_name": table}).fetchall()
    for snapshot, *_ in kept[settings().files_keep_snapshots :]:
        conn.execute(db.composed_sql("files/drop_table", table=_identifier(SNAPSHOTS, snapshot)))
        db.run_sql(conn, "files/delete_snapshot", {"snapshot": snapshot})


def _ledger_row(
    run_id: str,
    parsed: ParsedFile | None,
    table: str,
    status: str,
    *,
    loaded: int = 0,
    snapshot: str | None = None,
    error: str | None = None,
    file_name: str | None = None,
) -> dict:
    return {
        "run_id": run_id,
        "file_name": parsed.path.name if parsed else file_name,
        "sha256": parsed.sha256 if parsed else "",
        "size_bytes": parsed.size_bytes if parsed else None,
        "table_name": table,
        "status": status,
        "records": parsed.records if parsed else 0,
        "loaded": loaded,
        "rejected": len(parsed.rejects) if parsed else 0,
        "error_rate": parsed.error_rate if parsed else 0.0,
        "snapshot": snapshot,
        "error": redact(error)[:4000] if error else None,
    }


def _record(
    run_id: str, file_name: str, parsed: ParsedFile | None, tables: list[str], status: str, *, error: str | None = None
) -> None:
    """A ledger row per table for a file that was not loaded (failed, refused, unchanged)."""
    try:
        with db.transaction(application_name="etl files") as conn:
            for table in tables:
                db.run_sql(
                    conn,
                    "files/insert_file_load",
                    _ledger_row(run_id, parsed, table, status, error=error, file_name=file_name),
                )
    except psycopg.Error:
        pass  # the original outcome matters more than its ledger row


def _write_rejects(conn: psycopg.Connection, run_id: str, parsed: ParsedFile, tables: list[str]) -> None:
    db.run_sql(conn, "files/delete_file_rejects", {"pipeline_name": PIPELINE, "source": parsed.path.name})
    with conn.cursor() as cur:
        cur.executemany(
            db.load_sql("ops/upsert_rejected_row"), [_reject_row(run_id, parsed, r, tables) for r in parsed.rejects]
        )


def _reject_row(run_id: str, parsed: ParsedFile, reject: Reject, tables: list[str]) -> dict:
    return {
        "pipeline_name": PIPELINE,
        "source": parsed.path.name,
        "line": reject.line,
        "raw": reject.raw,
        "reason": reject.reason,
        "unit_key": ",".join(tables),
        "run_id": run_id,
    }


def _record_rejects_alone(run_id: str, parsed: ParsedFile, tables: list[str]) -> None:
    """A refused file's rejects and ledger rows, for diagnosis; its data stays unloaded."""
    with db.transaction(application_name="etl files") as conn:
        _write_rejects(conn, run_id, parsed, tables)
        for table in tables:
            row = _ledger_row(run_id, parsed, table, "refused", error="error rate above the threshold")
            db.run_sql(conn, "files/insert_file_load", row)


def _archive_and_note(path: Path, archive_dir: Path, run_id: str) -> str | None:
    """Archive a processed file and note where in the ledger; a failure is logged, not raised."""
    try:
        archived = _archive(path, archive_dir)
    except OSError as exc:  # loaded already: the next run sees the same bytes and archives it then
        PipelineLogger(PIPELINE, run_id, stage="archive").warning("%s: could not archive: %s", path, exc)
        return None
    with db.transaction(application_name="etl files") as conn:
        db.run_sql(
            conn, "files/update_file_archived", {"archived_to": archived, "run_id": run_id, "file_name": path.name}
        )
    return archived


@io_retry
def _archive(path: Path, archive_dir: Path) -> str:
    """Move a processed file to <archive>/<YYYY-MM-DD>/ (a suffix if the name is taken)."""
    target_dir = archive_dir / dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), target)
    return str(target)


def results_for_run(run_id: str) -> list[FileResult]:
    """The run's files as the ledger holds them (what a DAG's report step reads), with their warnings."""
    with db.connect(autocommit=True, application_name="etl files") as conn:
        rows = db.run_sql(conn, "files/select_run_files", {"run_id": run_id}).fetchall()
        warnings = db.run_sql(conn, "files/select_run_warnings", {"pipeline_name": PIPELINE, "run_id": run_id})
        warnings = warnings.fetchall()
    results: dict[str, FileResult] = {}
    for file_name, table, status, records, loaded, rejected, error_rate, snapshot, error, archived in rows:
        result = results.setdefault(
            file_name,
            FileResult(file_name, [], status, records, 0, rejected, error_rate, error=error, archived_to=archived),
        )
        result.tables.append(table)
        result.loaded += loaded
        if snapshot:
            result.snapshots.append(snapshot)
    for file_name, target, check, severity, details in warnings:
        if file_name in results:
            label = audit.CheckResult(check, severity, passed=False, details=details).label
            results[file_name].warnings.append(f"{target.removeprefix(SCHEMA + '.')}: {check} {label}")
    return list(results.values())


def start_run(run_id: str) -> None:
    """Open the run's row in ops.pipeline_runs (its duration counts from here); close the dead ones."""
    with db.transaction(application_name="etl files") as conn:
        record_run(conn, PIPELINE, run_id, status="running")
    close_dead_runs_of(PIPELINE, run_id, PipelineLogger(PIPELINE, run_id, stage="run"))


def finish_run(run_id: str, results: list[FileResult], *, error: str | None = None) -> str:
    """The run's row in ops.pipeline_runs; returns its status: success | warning | error."""
    failed = [r for r in results if r.status in {"failed", "refused"}]
    warned = any(r.rejected or r.warnings for r in results)
    status = "error" if failed or error else "warning" if warned else "success"
    with db.transaction(application_name="etl files") as conn:
        record_run(
            conn,
            PIPELINE,
            run_id,
            status="failed" if status == "error" else "success",
            records_in=sum(r.records for r in results),
            records_out=sum(r.loaded for r in results),
            records_rejected=sum(r.rejected for r in results),
            error=error or "; ".join(f"{r.file}: {r.error}" for r in failed) or None,
            metadata={"files": [r.file for r in results], "outcome": status},
        )
    holders.release(PIPELINE, run_id)
    return status
