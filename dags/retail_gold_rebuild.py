"""
### retail_gold_rebuild: publish gold months on demand

Same code path as `etl retail gold`. Leave year and month empty for every month whose
silver input changed since it was last published; give a year for all its months, a
year and a month for one. `reset` forgets the months' gold and rebuilds it from silver;
`dry_run` only reports what would be processed (see the task logs).

`months` lists the months to publish; `rebuild` is one mapped `GoldUpsertOperator` per
month, each its own unit of work. The gold Assets get an event only from a month whose gold
changed, with the month, rows written and input fingerprint in its `extra`; a dry run, or a
month with nothing to do, ends skipped with no event, so an Asset-scheduled consumer does not
fire.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from reliable_etl.operators import GoldUpsertOperator
from reliable_etl.retail import RETAIL_GOLD_ARGS
from reliable_etl.retail.assets import GOLD_ASSETS


@dag(
    schedule=None,
    catchup=False,
    max_active_runs=1,
    description="Manual: publish retail gold months (one month, a year, or every month whose input changed)",
    doc_md=__doc__,
    tags=["retail", "manual"],
    default_args={"owner": "data-platform", "retries": 2},
    params={
        "year": Param(
            None, type=["null", "integer"], minimum=2000, maximum=2100, title="Year", description="empty: all years"
        ),
        "month": Param(
            None, type=["null", "integer"], minimum=1, maximum=12, title="Month", description="needs a year"
        ),
        "reset": Param(
            False, type="boolean", title="Reset", description="forget the months' gold and rebuild it from silver"
        ),
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="only show what would be processed (no Asset event)"
        ),
    },
)
def retail_gold_rebuild() -> None:
    @task
    def ensure_schema() -> list[str]:
        from reliable_etl.ops import init_schema

        return init_schema()

    @task
    def months(params=None) -> list[str]:
        from reliable_etl.retail.gold import months_to_publish

        chosen = months_to_publish(params["year"], params["month"], reset=params["reset"])
        return [f"{year:04d}-{month:02d}" for year, month in chosen]

    chosen = months()
    rebuild = GoldUpsertOperator.partial(
        task_id="rebuild",
        **RETAIL_GOLD_ARGS,
        dry_run="{{ params.dry_run }}",
        reset="{{ params.reset }}",
        only_complete=False,  # on demand: open months too
        outlets=GOLD_ASSETS,
    ).expand(unit=chosen)
    ensure_schema() >> chosen >> rebuild


retail_gold_rebuild()
