"""The bundle's public operators: ops logging for any operator, and idempotent gold upserts.

    from reliable_etl.operators import EtlOperator, GoldUpsertOperator

``EtlOperator`` is the base of every operator of the bundle (the sync operators too) and of
yours: subclass it, implement ``run(context)``, and the task gets the bundle's structured logs
(bound to the pipeline, the run and the task, secrets masked, in the task log and in
``ops.pipeline_logs``), its row in the run ledger ``ops.pipeline_runs``, and units of work with
checkpoints (``self.unit_of_work``). The ops tables being unreachable never fails the task: it
says so once and goes on.

``GoldUpsertOperator`` publishes one unit (a month, a day, or any key a template gives) of one
or more gold tables from SQL files you name, idempotently: see ``reliable_etl.gold.publish``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from reliable_etl.errors import BadInputError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from reliable_etl.gold.spec import UnitResult
    from reliable_etl.ops.checks import Check
    from reliable_etl.ops.logs import PipelineLogger
    from reliable_etl.ops.runs import RunLedger
    from reliable_etl.ops.units import Unit


DEFAULT_UNITS = {  # the unit a run publishes when none is given: its data interval's month or day
    "month": "{{ data_interval_start.strftime('%Y-%m') }}",
    "day": "{{ data_interval_start.strftime('%Y-%m-%d') }}",
}


def truthy(value: object) -> bool:
    """A templated flag: native True/False, or the text a non-native template renders ("True", "1")."""
    return value is True or str(value).strip().lower() in {"true", "1", "yes"}


class EtlOperator(BaseOperator):
    """Base for operators that keep the bundle's ops ledger and structured logs.

    Subclasses implement :meth:`run` instead of ``execute``. Around it the base class opens the
    run's row in ``ops.pipeline_runs`` (``running``; ``failed`` with the error if ``run``
    raises; ``success`` at the end if ``closes_run``; a skip closes it as success, a deferral
    leaves it running) and binds every log record written meanwhile, by any
    ``reliable_etl.ops.logs.PipelineLogger``, to the task (dag, task, run, map index, try).

    Input that cannot be loaded as delivered is a ``reliable_etl.errors.BadInputError`` (name the
    file, line or record in its message): raised from ``run``, it fails the task at once, without
    retries. Record what the task read and wrote on its ledger row with
    ``self.ledger.update(records_in=..., records_out=..., records_rejected=...)`` (and
    ``self.ledger.metadata[...] = ...``); the row is written when the task ends.

    :param pipeline: the pipeline's name in the ops tables (``ops.pipeline_runs.pipeline_name``).
    :param closes_run: True if this task ends the pipeline's run (its last task); False for
        earlier tasks, which leave the run ``running`` for the last one to close.
    :param conn_id: the warehouse's Airflow Connection (templated): every statement the task
        sends goes there, its ledger rows and logs included. Default: ``ETL_WAREHOUSE_CONN_ID``,
        which defaults to ``warehouse``.
    """

    template_fields: Sequence[str] = ("conn_id",)
    ui_color = "#eef6ee"

    def __init__(self, *, pipeline: str, closes_run: bool = True, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.closes_run = closes_run
        self.conn_id = conn_id

    # -- what subclasses use ---------------------------------------------------------------

    def run(self, context: Context) -> Any:
        """The task's work; return a small summary (counts), never the records."""
        raise NotImplementedError

    def ledger_run_id(self, context: Context) -> str:
        """The run's key in the ledger (default: the Airflow run id)."""
        return context["run_id"]

    def ops_log(self, context: Context, stage: str | None = None) -> PipelineLogger:
        """A structured logger bound to this pipeline and run (and, within ``execute``, to the task)."""
        from reliable_etl.ops.logs import PipelineLogger

        return PipelineLogger(self.pipeline, self.ledger_run_id(context), stage=stage or self.task_id)

    @contextmanager
    def unit_of_work(self, context: Context, key: str, *, lock: str | None = None) -> Iterator[Unit]:
        """One transaction under the unit's advisory lock, with checkpoints (``reliable_etl.ops.units``).

        ``with self.unit_of_work(context, "2024-05-01") as unit: with unit.stage("load"): unit.conn...``
        """
        from reliable_etl.ops.units import unit_of_work

        log = self.ops_log(context)
        with unit_of_work(self.pipeline, self.ledger_run_id(context), key, log=log, lock=lock) as u:
            yield u

    # -- Airflow ---------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        return self._in_ledger(context, lambda: self.run(context))

    def _in_ledger(self, context: Context, work: Any) -> Any:
        from reliable_etl import db
        from reliable_etl.ops.context import task_context
        from reliable_etl.ops.logs import flush_logs
        from reliable_etl.ops.runs import pipeline_run

        ti = context.get("ti")
        ids = {
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "run_id": context["run_id"],
            "map_index": getattr(ti, "map_index", -1),
            "try_number": getattr(ti, "try_number", None),
        }
        with db.use_warehouse(self.conn_id), task_context(**ids):
            log = self.ops_log(context)
            try:
                with pipeline_run(
                    self.pipeline,
                    self.ledger_run_id(context),
                    log=log,
                    closes=self.closes_run,
                    metadata={"dag_id": self.dag_id, "airflow_run_id": context["run_id"]},
                ) as ledger:
                    self.ledger: RunLedger = ledger
                    return work()
            except BadInputError as exc:  # input that cannot be loaded as delivered: retrying cannot help
                raise AirflowFailException(str(exc)) from exc
            finally:
                flush_logs()


class GoldUpsertOperator(EtlOperator):
    """Publish one unit of gold tables from SQL files, in one transaction, only if its input changed.

    The unit (a month by default) is computed from the SQL files you name, under the unit's
    advisory lock, with its ledger row (``ops.processed_months`` for months, else
    ``ops.processed_units``): its input's fingerprint gates it, so an unchanged unit writes 0
    rows, emits no Asset event and ends **skipped**; a changed one writes only what changed
    (each table file upserts with ``IS DISTINCT FROM`` and deletes vanished keys, and returns
    its rows written). When gold changed, each outlet's Asset event carries ``extra``:
    ``{"unit", "rows_written", "fingerprint", "input_rows"}``. See ``reliable_etl.gold.publish`` for the SQL
    contract and parameters.

    :param pipeline: the pipeline's name in the ledgers.
    :param tables: SQL files, one per gold table, run in order (relative to ``sql_dir``); or
        give a model (the next four) instead.
    :param model_sql: one SELECT of the unit's rows of ``target``: the upsert, the deletes of
        vanished keys and (on the first publish) the table are derived from it.
    :param target: the model's table, ``schema.table``.
    :param key: the model's primary key columns.
    :param unit_column: the key column that holds the unit (the target's rows of this unit).
    :param unit: the unit's key (templated). Default: the run's data interval's month (kind
        ``month``) or day (kind ``day``); a ``key`` unit must be given.
    :param kind: ``month`` (``YYYY-MM``), ``day`` (``YYYY-MM-DD``) or ``key`` (any string).
    :param fingerprint_sql: SQL returning one row ``(fingerprint, input_rows)`` for the unit;
        or give ``input_sql``, selecting the unit's input rows, and their md5 is the fingerprint.
        One of the two with ``tables``; for a model, by default, the model's rows are fingerprinted.
    :param input_sql: see ``fingerprint_sql``.
    :param reset_sql: SQL deleting the unit's gold rows (returns the count), run when ``reset``.
    :param create_sql: SQL creating the gold tables the files write if they do not exist (``create
        table if not exists ...``; several statements, no parameters), run in the unit's
        transaction before them. A table file is one statement (steps as CTEs) returning its rows
        written; a model's table is created from the model.
    :param checks: ``reliable_etl.ops.checks.Check(name, sql, severity="error"|"warning")`` (or dicts): SQL
        assertions on what the unit is about to publish, run in its transaction after its rows are
        written and before the commit (write-audit-publish). A failed error check rolls the unit
        back and fails the task, naming the check and its numbers; a failed warning publishes and
        is reported. Every verdict goes to ``ops.check_results`` and the Asset event's extra.
    :param lock: the unit's advisory lock, formatted with ``{pipeline} {kind} {unit}``.
    :param sql_params: extra bound parameters for every file (templated).
    :param sql_dir: where the file names are looked up (default: the package's ``sql`` folder).
    :param dry_run: only say what would be done: writes nothing, no Asset event (templated).
    :param reset: recompute even an unchanged unit, after ``reset_sql`` (templated).
    :param only_complete: a ``month`` or ``day`` unit is published for the first time only once
        the run's data interval reaches its end (an open month waits); once published it is
        kept current. False publishes open units too.
    :return: ``{"unit", "action", "input_rows", "rows_written", "fingerprint"}`` (XCom).
    """

    template_fields: Sequence[str] = (*EtlOperator.template_fields, "unit", "sql_params", "dry_run", "reset")
    ui_color = "#fdf3d8"

    def __init__(
        self,
        *,
        pipeline: str,
        tables: Sequence[str] = (),
        model_sql: str | None = None,
        target: str | None = None,
        key: Sequence[str] = (),
        unit_column: str | None = None,
        unit: str | None = None,
        kind: str = "month",
        fingerprint_sql: str | None = None,
        input_sql: str | None = None,
        reset_sql: str | None = None,
        create_sql: str | None = None,
        checks: Sequence[Check | dict] = (),
        lock: str = "{pipeline}:{kind}:{unit}",
        sql_params: dict | None = None,
        sql_dir: str | None = None,
        dry_run: bool | str = False,
        reset: bool | str = False,
        only_complete: bool = True,
        **kwargs: Any,
    ) -> None:
        from reliable_etl.gold.spec import GoldSpec

        super().__init__(pipeline=pipeline, **kwargs)
        self.spec = GoldSpec(  # checked now: a mistake is an import error of the DAG file
            pipeline=pipeline,
            tables=tuple(tables),
            model_sql=model_sql,
            target=target,
            key=tuple(key),
            unit_column=unit_column,
            kind=kind,
            fingerprint_sql=fingerprint_sql,
            input_sql=input_sql,
            reset_sql=reset_sql,
            create_sql=create_sql,
            checks=tuple(checks),
            lock=lock,
            sql_dir=Path(sql_dir) if sql_dir else None,
        )
        if unit is None and kind not in DEFAULT_UNITS:
            raise ValueError(f"gold {pipeline}: a {kind!r} unit needs unit= (a key or a template giving one)")
        self.unit = DEFAULT_UNITS[kind] if unit is None else unit
        self.sql_params = sql_params or {}
        self.dry_run = dry_run
        self.reset = reset
        self.only_complete = only_complete

    def ledger_run_id(self, context: Context) -> str:
        """The run's row; a mapped instance (one unit of many) keeps a row of its own, ``<run id>:<unit>``."""
        mapped = getattr(context.get("ti"), "map_index", -1) >= 0
        return f"{context['run_id']}:{self.unit}" if mapped else context["run_id"]

    def _complete(self, context: Context) -> bool:
        """Does the run's data interval reach the unit's end (True for keys and runs without one)?"""
        end = self.spec.unit_end(self.unit)
        interval_end = context.get("data_interval_end")
        if not self.only_complete or end is None or interval_end is None:
            return True
        return interval_end.date() >= end

    def run(self, context: Context) -> dict:
        from reliable_etl.gold.publish import publish_unit

        dry_run, reset = truthy(self.dry_run), truthy(self.reset)
        result = publish_unit(
            self.spec,
            str(self.unit),
            run_id=self.ledger_run_id(context),
            params=self.sql_params,
            reset=reset,
            dry_run=dry_run,
            complete=self._complete(context),
            log=self.ops_log(context, stage="gold"),
        )
        self.ledger.metadata.update(gold=result.action, unit=result.unit)
        return self.emit(context, result, dry_run=dry_run)

    def emit(self, context: Context, result: UnitResult, *, dry_run: bool = False) -> dict:
        """The XCom summary; an Asset event per outlet only when gold changed (else a skip)."""
        if dry_run or not result.changed:
            why = "dry run" if dry_run else "no gold change"
            raise AirflowSkipException(f"{why}: {result.unit} {result.action} (no Asset event)")
        extra = {
            self.spec.kind: result.unit,  # "month": "2011-02"
            "unit": result.unit,
            "rows_written": result.rows_written,
            "input_rows": result.input_rows,
            "fingerprint": result.fingerprint,
            "reason": result.reason,
            "checks": {check.name: check.label for check in result.checks},
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        return result.as_dict()
