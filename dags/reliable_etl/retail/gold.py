"""Retail gold: three marts per month and the ops.processed_months row, as one gold unit.

The unit is ``reliable_etl.gold.publish`` with the retail SQL files (``RETAIL_GOLD``): a month is recomputed only
when the fingerprint of its silver input (built from the per-day fingerprints, ~30 rows to
read) differs from the one recorded when it was last published; an unchanged month writes
nothing. The month's lock is the one day loads take shared, so gold never reads a half-written
month. ``GoldUpsertOperator`` in ``retail_daily`` and ``retail_gold_rebuild`` publishes with
this spec; so do ``etl retail run`` and ``etl retail gold``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from reliable_etl import db
from reliable_etl.gold.publish import publish_unit
from reliable_etl.gold.spec import GoldSpec, UnitResult
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.ops.runs import pipeline_run
from reliable_etl.retail import PIPELINE, RETAIL_GOLD_ARGS
from reliable_etl.retry import retrying

RETAIL_GOLD = GoldSpec(**RETAIL_GOLD_ARGS)


class MonthResult(UnitResult):
    """A gold unit's result, named by its month."""

    @property
    def month_key(self) -> str:
        return self.unit


def month_key(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def closes_month(day: dt.date) -> bool:
    """True when ``day`` is the last day of its month: processing it completes the month."""
    return (day + dt.timedelta(days=1)).month != day.month


def publish_month(
    year: int, month: int, *, run_id: str, reset: bool = False, dry_run: bool = False, complete: bool = True
) -> MonthResult:
    """Recompute gold for a month if its silver input changed (or ``reset``), retried on transient errors."""
    result = publish_unit(
        RETAIL_GOLD, f"{year:04d}-{month:02d}", run_id=run_id, reset=reset, dry_run=dry_run, complete=complete
    )
    return MonthResult(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})


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
            gold = {"target": RETAIL_GOLD.publishes, "logic_fingerprint": RETAIL_GOLD.logic_fingerprint}
            return db.run_sql(conn, "retail/select_silver_months", gold).fetchall()

    rows = retrying(what="months to publish")(read)
    selected = []
    for key, _rows, _status, is_current in rows:
        y, m = (int(part) for part in key.split("-"))
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
    """The manual rebuild (``etl retail gold``; the DAG maps the operator over ``months_to_publish``).

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

    None while the month is open and was never published. Closes the day's run in
    ops.pipeline_runs (unless an enclosing ``pipeline_run`` does).
    """
    log = PipelineLogger(PIPELINE, run_id, stage="gold")
    with pipeline_run(PIPELINE, run_id, log=log, metadata={"month": month_key(day)}) as ledger:
        result = publish_month(day.year, day.month, run_id=run_id, complete=closes_month(day))
        ledger.metadata["gold"] = "month open" if result.action == "open" else result.action
    return None if result.action == "open" else result
