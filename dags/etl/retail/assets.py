"""The gold tables as Airflow Assets, so other DAGs can be scheduled on them.

An event is emitted only when gold changed: a dry run, or a month whose silver input is
unchanged, skips the publishing task (a skipped task emits nothing). The event's ``extra``
says what changed, so the Assets page shows it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowSkipException

if TYPE_CHECKING:
    from etl.retail.gold import MonthResult

GOLD_TABLES = ("fact_sales_monthly", "fact_product_performance", "fact_country_sales")
GOLD_ASSETS = [
    Asset(name=f"gold.{table}", uri=f"postgres://warehouse:5432/warehouse/gold/{table}", group="retail")
    for table in GOLD_TABLES
]


def publish_events(results: list[MonthResult], outlet_events: Any, *, dry_run: bool = False) -> dict:
    """The task's summary; each gold Asset's event ``extra`` lists the months written.

    Raises AirflowSkipException (no event) when nothing was written, naming why.
    """
    summary = {
        "dry_run": dry_run,
        "months": [
            {"month": r.month_key, "action": r.action, "input_rows": r.input_rows, "rows_written": r.rows_written}
            for r in results
        ],
    }
    changed = [r for r in results if r.changed]
    if dry_run or not changed:
        plan = ", ".join(f"{r.month_key} {r.action}" for r in results) or "every month is up to date"
        raise AirflowSkipException(f"{'dry run' if dry_run else 'no gold change'}: {plan} (no Asset event)")
    extra = {
        "months": [
            {"month": r.month_key, "rows_written": r.rows_written, "fingerprint": r.fingerprint} for r in changed
        ],
        "rows_written": sum(r.rows_written for r in changed),
    }
    for asset in GOLD_ASSETS:
        outlet_events[asset].extra = extra
    return summary
