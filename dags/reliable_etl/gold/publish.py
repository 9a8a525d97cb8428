"""Gold units: one unit (a month, a day, any key) of one or more gold tables, published idempotently.

A ``GoldSpec`` names SQL files; ``publish_unit`` runs them for one unit in ONE transaction,
under the unit's advisory lock, with the unit's ledger row, only if the fingerprint of the
unit's input changed since it was last published:

    fingerprint   ``fingerprint_sql`` returns one row (fingerprint, input_rows) for the unit; or
                  ``input_sql`` selects the unit's input rows and the fingerprint is their md5
                  (for a model, by default, the md5 of the rows the model selects)
    gate          the ledger (``ops.processed_months`` for months, ``ops.processed_units`` for
                  other kinds) holds the fingerprint the unit was published from: equal means
                  "unchanged", and nothing is written
    tables        each file upserts the unit's rows of one gold table with ``IS DISTINCT FROM``
                  and deletes its vanished keys, and returns one row: the number of rows it
                  wrote (so a changed unit writes only what changed)
    ledger        the unit's row, in the same transaction as its gold rows

Or, instead of table files, a **model**: ``model_sql`` is one SELECT of the unit's rows of one
table ``target`` (``schema.table``, created from the model's columns with primary key ``key``
on the first publish). The operator derives the rest: upsert by ``key`` writing only changed
rows (``IS DISTINCT FROM``), and delete of the target's rows of the unit (``unit_column =
unit``) that the model no longer selects. One SQL file per gold table, nothing else to write.

The SQL files get the unit's parameters, bound: ``%(unit_key)s`` always; for a month also
``%(year)s %(month)s %(month_start)s %(month_end)s`` (and ``%(month_key)s``); for a day
``%(day)s %(day_end)s``; and ``%(fingerprint)s`` (the tables may store it), plus any
``params`` given. A literal ``%`` is written ``%%``. If the unit's input may be written while
the unit is computed, have its writers take the unit's lock (retail day loads take their
month's lock shared): otherwise a change committed mid-unit is caught by the next run, whose
fingerprint differs.

Used by ``reliable_etl.operators.GoldUpsertOperator`` (Airflow) and by ``etl retail gold`` (the CLI):
one code path.
"""

from __future__ import annotations

import psycopg
from psycopg import sql as pgsql

from reliable_etl import db, failpoints
from reliable_etl.errors import AuditFailedError, BadInputError
from reliable_etl.gold.spec import GoldSpec, UnitResult
from reliable_etl.ops import checks as audit
from reliable_etl.ops.logs import PipelineLogger, redact
from reliable_etl.ops.units import unit_of_work
from reliable_etl.retry import retrying


def _subquery(spec: GoldSpec, name: str) -> pgsql.Composable:
    """A SELECT file as a subquery (a trailing ';' dropped; comments kept on their own lines)."""
    return pgsql.SQL("(\n{}\n)").format(pgsql.SQL(spec.text(name).rstrip().rstrip(";")))  # type: ignore[arg-type]


def _fingerprint(spec: GoldSpec, conn: psycopg.Connection, params: dict) -> tuple[str, int]:
    """(fingerprint, input rows) of the unit: the fingerprint query's, else the md5 of the rows selected."""
    if spec.fingerprint_sql:
        row = conn.execute(spec.text(spec.fingerprint_sql), params).fetchone()
    else:
        rows = _subquery(spec, spec.input_sql or spec.model_sql)  # type: ignore[arg-type]
        query = pgsql.SQL(
            "select md5(coalesce(string_agg(unit_rows::text, '|' order by unit_rows::text), '')), count(*)"
            " from {} as unit_rows"
        ).format(rows)
        row = conn.execute(query, params).fetchone()
    if row is None or len(row) < 2:
        raise BadInputError(f"gold {spec.pipeline}: the fingerprint query returned no (fingerprint, input_rows) row")
    return row[0] or "", int(row[1] or 0)


def _target(spec: GoldSpec) -> pgsql.Identifier:
    schema, _, table = spec.target.partition(".")  # type: ignore[union-attr]
    return pgsql.Identifier(schema, table)


def _ensure_target(spec: GoldSpec, conn: psycopg.Connection, params: dict) -> None:
    """A model's table, created from the model's columns with its key on the first publish."""
    if conn.execute("select to_regclass(%s)", (spec.target,)).fetchone()[0] is not None:
        return  # no lock taken: the usual case
    db.advisory_lock(conn, f"gold:create:{spec.target}")
    if conn.execute("select to_regclass(%s)", (spec.target,)).fetchone()[0] is not None:
        return
    schema = pgsql.Identifier(spec.target.partition(".")[0])  # type: ignore[union-attr]
    conn.execute(pgsql.SQL("create schema if not exists {}").format(schema))
    model = _subquery(spec, spec.model_sql)  # type: ignore[arg-type]
    conn.execute(
        pgsql.SQL("create table {} as select * from {} as m with no data").format(_target(spec), model), params
    )
    keys = pgsql.SQL(", ").join(map(pgsql.Identifier, spec.key))
    conn.execute(pgsql.SQL("alter table {} add primary key ({})").format(_target(spec), keys))


def _upsert_model(spec: GoldSpec, conn: psycopg.Connection, params: dict, *, reset: bool) -> int:
    """Upsert the model's rows (changed ones only), delete the unit's vanished keys; rows written."""
    model = _subquery(spec, spec.model_sql)  # type: ignore[arg-type]
    columns = [
        c.name for c in conn.execute(pgsql.SQL("select * from {} as m limit 0").format(model), params).description
    ]
    missing = [name for name in spec.key if name not in columns]
    if missing:
        raise BadInputError(f"gold {spec.pipeline}: {spec.path(spec.model_sql)} selects no key column {missing}")  # type: ignore[arg-type]
    target, ident = _target(spec), pgsql.Identifier
    keys = pgsql.SQL(", ").join(map(ident, spec.key))
    values = [c for c in columns if c not in spec.key]
    written = 0
    if reset:
        delete = pgsql.SQL("delete from {} where {} = %(unit_key)s").format(target, ident(spec.unit_column))
        written += conn.execute(delete, params).rowcount
    update = pgsql.SQL("do nothing")
    if values:
        update = pgsql.SQL("do update set {} where ({}) is distinct from ({})").format(
            pgsql.SQL(", ").join(pgsql.SQL("{} = excluded.{}").format(ident(c), ident(c)) for c in values),
            pgsql.SQL(", ").join(pgsql.SQL("t.{}").format(ident(c)) for c in values),
            pgsql.SQL(", ").join(pgsql.SQL("excluded.{}").format(ident(c)) for c in values),
        )
    statement = pgsql.SQL(
        "with model as (select * from {model} as m),"
        " removed as (delete from {target} as t where t.{unit} = %(unit_key)s"
        " and not exists (select 1 from model where ({model_keys}) = ({target_keys})) returning 1),"
        " written as (insert into {target} as t ({columns}) select {columns} from model"
        " on conflict ({keys}) {update} returning 1)"
        " select (select count(*) from removed) + (select count(*) from written)"
    ).format(
        model=model,
        target=target,
        unit=ident(spec.unit_column),
        model_keys=pgsql.SQL(", ").join(pgsql.SQL("model.{}").format(ident(k)) for k in spec.key),
        target_keys=pgsql.SQL(", ").join(pgsql.SQL("t.{}").format(ident(k)) for k in spec.key),
        columns=pgsql.SQL(", ").join(map(ident, columns)),
        keys=keys,
        update=update,
    )
    return written + int(conn.execute(statement, params).fetchone()[0])


def _publish_once(
    spec: GoldSpec,
    unit: str,
    params: dict,
    *,
    run_id: str,
    reset: bool,
    dry_run: bool,
    complete: bool,
    log: PipelineLogger,
) -> UnitResult:
    with unit_of_work(spec.pipeline, run_id, unit, log=log, lock=spec.lock_for(unit)) as work:
        conn = work.conn
        fingerprint, input_rows = _fingerprint(spec, conn, params)
        processed = db.run_sql(conn, f"ops/select_processed_{spec.ledger}", params).fetchone()
        published = processed is not None and processed[1] is not None  # a failed later attempt keeps it
        if not complete and not published and not reset:
            return UnitResult(unit, "open", input_rows)  # published once complete, then kept current
        if not input_rows and not reset and processed is None:  # a published unit emptied must lose its rows
            return UnitResult(unit, "empty")
        reason = _reason(processed, fingerprint, params["logic_fingerprint"], reset=reset)
        if dry_run:
            return UnitResult(unit, "would compute" if reason else "would skip", input_rows, reason=reason)
        if reason is None:
            return UnitResult(unit, "unchanged", input_rows)
        with work.stage("gold") as cp:
            bound = {**params, "fingerprint": fingerprint}
            db.run_sql(conn, f"ops/adopt_processed_{spec.ledger}", bound)
            if spec.create_sql:
                conn.execute(pgsql.SQL(spec.text(spec.create_sql)))  # type: ignore[arg-type]  # DDL, no parameters
            written = conn.execute(spec.text(spec.reset_sql), bound).fetchone()[0] if reset and spec.reset_sql else 0
            if spec.model_sql:
                _ensure_target(spec, conn, bound)
                written += _upsert_model(spec, conn, bound, reset=reset)
            for table in spec.tables:
                row = conn.execute(spec.text(table), bound).fetchone()
                if row is None:
                    raise BadInputError(f"gold {spec.pipeline}: {spec.path(table)} must return its rows written")
                written += int(row[0] or 0)
                failpoints.reach("gold.table.upserted")  # the chaos suite: one table of the unit written
            checks = _audit(spec, conn, bound)  # before the commit: a failed error check rolls the unit back
            audit.record(conn, checks, **_where(spec, bound), run_id=run_id, published=True)
            db.run_sql(
                conn,
                f"ops/upsert_processed_{spec.ledger}",
                {**bound, "input_rows": input_rows, "rows_written": written},
            )
            cp.value = fingerprint
            cp.metadata.update(input_rows=input_rows, rows_written=written, reason=reason)
            cp.metadata["checks"] = {check.name: check.label for check in checks}
            failpoints.reach("gold.unit.written")  # the crash tests: the unit written, not committed
    return UnitResult(unit, "computed", input_rows, written, fingerprint, reason, tuple(checks))


def _audit(spec: GoldSpec, conn: psycopg.Connection, params: dict) -> list[audit.CheckResult]:
    """Every check of the unit on what it is about to publish; raises when an error check failed."""
    where = f"gold {spec.pipeline} {params['unit_key']}"
    results = [audit.run_check(conn, check, spec.text(check.sql), params, where=where) for check in spec.checks]
    audit.raise_on_errors(results, what=where)
    return results


def _where(spec: GoldSpec, params: dict) -> dict:
    return {"pipeline": spec.pipeline, "target": params["target"], "unit_key": params["unit_key"]}


def _reason(processed: tuple | None, fingerprint: str, logic: str, *, reset: bool) -> str | None:
    """Why the unit must be (re)computed, or None when its gold is current."""
    if reset:
        return "reset"
    if processed is None or processed[1] is None:
        return "new"
    if processed[2] != logic:
        return "logic changed"
    if processed[0] != "completed":
        return "failed before"  # its last attempt failed: the gold on record is the last good one
    if processed[1] != fingerprint:
        return "input changed"
    return None


def _published(spec: GoldSpec, params: dict) -> bool:
    """True once the unit has been published (a later failed attempt keeps its fingerprint)."""
    with db.transaction(application_name=f"etl {spec.pipeline} gold") as conn:
        row = db.run_sql(conn, f"ops/select_processed_{spec.ledger}", params).fetchone()
    return row is not None and row[1] is not None


def _mark_failed(spec: GoldSpec, params: dict, exc: BaseException, *, log: PipelineLogger) -> None:
    def write() -> None:
        with db.transaction(application_name=f"etl {spec.pipeline} gold") as conn:
            db.run_sql(conn, f"ops/adopt_processed_{spec.ledger}", params)
            db.run_sql(conn, f"ops/fail_processed_{spec.ledger}", {**params, "error": redact(str(exc))[:4000]})

    try:
        retrying(log=log, what=f"ledger of gold {params['unit_key']}", attempts=3)(write)
    except psycopg.Error:  # the original error matters more than the ledger row
        log.warning("could not record the failure of gold %s in the ledger", params["unit_key"])


def publish_unit(
    spec: GoldSpec,
    unit: str,
    *,
    run_id: str,
    params: dict | None = None,
    reset: bool = False,
    dry_run: bool = False,
    complete: bool = True,
    log: PipelineLogger | None = None,
) -> UnitResult:
    """Publish one unit if its input changed (or ``reset``); retried on transient errors.

    ``complete=False``: the unit may still grow (an open month): it is not published for the
    first time, but once published it is kept current. ``dry_run`` only says what it would do.
    ``reset`` runs ``reset_sql`` (if any) and recomputes even an unchanged unit.
    """
    log = log or PipelineLogger(spec.pipeline, run_id, stage="gold")
    bound = {
        **spec.unit_params(unit),
        **(params or {}),
        "target": spec.publishes,
        "logic_fingerprint": spec.logic_fingerprint,
    }
    if not complete and not reset and not retrying(log=log, what=f"ledger of gold {unit}")(_published, spec, bound):
        return UnitResult(unit, "open")  # nothing to lock or read yet (checked again under the lock otherwise)
    try:
        result = retrying(log=log, what=f"gold {unit}")(
            _publish_once, spec, unit, bound, run_id=run_id, reset=reset, dry_run=dry_run, complete=complete, log=log
        )
    except AuditFailedError as exc:  # rolled back: its verdicts and the ledger's failed row, apart
        log.error("gold %s: not published: %s", unit, exc, metadata={"checks": [r.label for r in exc.results]})
        audit.record_rolled_back(exc.results, **_where(spec, bound), run_id=run_id, log=log)
        _mark_failed(spec, bound, exc, log=log)
        raise
    except BadInputError:
        raise
    except Exception as exc:
        _mark_failed(spec, bound, exc, log=log)
        raise
    audit.warn_failed(result.checks, unit_key=f"gold {result.unit}", log=log)
    log.info(
        "gold %s: %s%s (%d input rows, %d rows written)",
        result.unit,
        result.action,
        f": {result.reason}" if result.reason else "",
        result.input_rows,
        result.rows_written,
        metadata={
            "unit": result.unit,
            "action": result.action,
            "reason": result.reason,
            "rows_written": result.rows_written,
        },
    )
    return result
