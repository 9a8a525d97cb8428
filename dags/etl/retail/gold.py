"""Gold for one month: three marts and the ops.processed_months row in ONE transaction.

A month is recomputed only when the fingerprint of its silver input differs from the one
recorded when it was last published: an unchanged month is skipped and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from etl import db, failpoints
from etl.ops.logs import PipelineLogger, redact
from etl.ops.runs import record_run
from etl.ops.units import unit_of_work
from etl.retail import PIPELINE
from etl.retry import retrying

GOLD_STEPS = (
    "retail/upsert_gold_sales_monthly",
    "retail/upsert_gold_product_performance",
    "retail/upsert_gold_country_sales",
)


@dataclass(frozen=True)
class MonthResult:
    month_key: str
    action: str  # computed | unchanged | empty | would compute | would skip
    input_rows: int = 0
    rows_written: int = 0
    fingerprint: str | None = None  # of the silver input the month was computed from

    @property
    def changed(self) -> bool:
        """True when this call wrote gold (only then is an Asset event due)."""
        return self.action == "computed"


def _bounds(year: int, month: int) -> dict:
    start = dt.date(year, month, 1)
    end = dt.date(year + month // 12, month % 12 + 1, 1)
    return {
        "month_key": f"{year:04d}-{month:02d}",
        "year": year,
        "month": month,
        "month_start": start,
        "month_end": end,
    }


def publish_month(year: int, month: int, *, run_id: str, reset: bool = False, dry_run: bool = False) -> MonthResult:
    """Recompute gold for a month if its silver input changed (or ``reset``), retried on transient errors."""
    log = PipelineLogger(PIPELINE, run_id, stage="gold")
    params = _bounds(year, month)
    try:
        result = retrying(log=log, what=f"gold {params['month_key']}")(
            _publish_once, params, run_id=run_id, reset=reset, dry_run=dry_run, log=log
        )
    except Exception as exc:
        _mark_failed(params, exc, log=log)
        raise
    log.info(
        "gold %s: %s (%d input rows, %d rows written)",
        result.month_key,
        result.action,
        result.input_rows,
        result.rows_written,
        metadata={"month": result.month_key, "action": result.action, "rows_written": result.rows_written},
    )
    return result


def _publish_once(params: dict, *, run_id: str, reset: bool, dry_run: bool, log: PipelineLogger) -> MonthResult:
    month_key = params["month_key"]
    lock = f"retail:month:{month_key}"
    with unit_of_work(PIPELINE, run_id, month_key, log=log, lock=lock) as unit:
        conn = unit.conn
        fingerprint, input_rows, _days = db.run_sql(conn, "retail/select_month_fingerprint", params).fetchone()
        processed = db.run_sql(conn, "retail/select_processed_month", params).fetchone()
        if not input_rows and not reset and processed is None:  # a published month emptied must lose its gold
            return MonthResult(month_key, "empty")
        current = processed is not None and processed[0] == "completed" and processed[1] == fingerprint
        if dry_run:
            return MonthResult(month_key, "would skip" if current and not reset else "would compute", input_rows)
        if current and not reset:
            return MonthResult(month_key, "unchanged", input_rows)
        with unit.stage("gold") as cp:
            written = db.run_sql(conn, "retail/delete_gold_month", params).fetchone()[0] if reset else 0
            for step in GOLD_STEPS:
                written += db.run_sql(conn, step, {**params, "fingerprint": fingerprint or ""}).fetchone()[0]
            db.run_sql(
                conn,
                "retail/upsert_processed_month",
                {**params, "fingerprint": fingerprint or "", "input_rows": input_rows, "rows_written": written},
            )
            cp.value = fingerprint
            cp.metadata.update(input_rows=input_rows, rows_written=written, reset=reset)
            failpoints.reach("retail.gold.written")  # the crash tests: the month written, not committed
    return MonthResult(month_key, "computed", input_rows, written, fingerprint)


def _mark_failed(params: dict, exc: BaseException, *, log: PipelineLogger) -> None:
    def write() -> None:
        with db.transaction(application_name="etl retail gold") as conn:
            db.run_sql(conn, "retail/fail_processed_month", {**params, "error": redact(str(exc))[:4000]})

    try:
        retrying(log=log, what=f"ledger of gold {params['month_key']}", attempts=3)(write)
    except psycopg.Error:  # the original error matters more than the ledger row
        log.warning("could not record the failure of gold %s in ops.processed_months", params["month_key"])


def months_to_publish(
    year: int | None = None, month: int | None = None, *, reset: bool = False
) -> list[tuple[int, int]]:
    """The months a rebuild covers: the one asked for, a year's, or every month not current."""
    if month is not None and year is None:
        raise ValueError("--month needs --year")
    if year is not None and month is not None:
        return [(year, month)]

    def read() -> list[tuple]:
        with db.transaction(application_name="etl retail gold") as conn:
            return db.run_sql(conn, "retail/select_silver_months").fetchall()

    rows = retrying(what="months to publish")(read)
    selected = []
    for month_key, _rows, _status, is_current in rows:
        y, m = (int(part) for part in month_key.split("-"))
        if year is not None and y != year:
            continue
        if reset or year is not None or not is_current:
            selected.append((y, m))
    return selected


def rebuild_gold(
    year: int | None = None,
    month: int | None = None,
    *,
    run_id: str,
    reset: bool = False,
    dry_run: bool = False,
    on_month: Callable[[MonthResult], None] | None = None,
) -> list[MonthResult]:
    """The manual rebuild (DAG ``retail_gold_rebuild`` and ``etl retail gold``): one code path.

    ``on_month`` hears of each month as soon as it is done (progress, what was committed).
    """
    results = []
    for y, m in months_to_publish(year, month, reset=reset):
        results.append(publish_month(y, m, run_id=run_id, reset=reset, dry_run=dry_run))
        if on_month:
            on_month(results[-1])
    return results


def gold_for_day(day: dt.date, *, run_id: str) -> MonthResult | None:
    """After day D: publish D's month if D closes it or the month was published before.

    Closes the day's run in ops.pipeline_runs either way.
    """
    log = PipelineLogger(PIPELINE, run_id, stage="gold")
    closes_month = (day + dt.timedelta(days=1)).month != day.month
    result = None
    if closes_month or retrying(log=log, what=f"ledger of gold {day:%Y-%m}")(_was_published, day):
        result = publish_month(day.year, day.month, run_id=run_id)

    def close_run() -> None:
        with db.transaction(application_name="etl retail runs") as conn:
            record_run(
                conn,
                PIPELINE,
                run_id,
                status="success",
                metadata={"gold": result.action if result else "month open", "month": f"{day:%Y-%m}"},
            )

    retrying(log=log, what=f"ledger of run {run_id}")(close_run)
    return result


def _was_published(day: dt.date) -> bool:
    """True once the month has been published (a later failed attempt keeps its fingerprint)."""
    with db.transaction(application_name="etl retail gold") as conn:
        row = db.run_sql(conn, "retail/select_processed_month", _bounds(day.year, day.month)).fetchone()
    return row is not None and row[1] is not None
