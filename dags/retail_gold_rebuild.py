"""
### retail_gold_rebuild: publish gold months on demand

Same code path as `etl retail gold`. Leave year and month empty for every month whose
silver input changed since it was last published; give a year for all its months, a
year and a month for one. `reset` forgets the months' gold and rebuilds it from silver;
`dry_run` only reports what would be processed (see the task log).

The gold Assets get an event only when gold changed, with the months, rows written and
input fingerprints in its `extra`; a dry run, or a rebuild with nothing to do, ends with
`rebuild` skipped and no event, so an Asset-scheduled consumer does not fire.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from etl.retail.assets import GOLD_ASSETS


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
        from etl.ops import init_schema

        return init_schema()

    @task(outlets=GOLD_ASSETS)
    def rebuild(params=None, run_id=None, outlet_events=None) -> dict:
        from etl.retail.assets import publish_events
        from etl.retail.gold import rebuild_gold

        results = rebuild_gold(
            params["year"], params["month"], run_id=run_id, reset=params["reset"], dry_run=params["dry_run"]
        )
        return publish_events(results, outlet_events, dry_run=params["dry_run"])

    ensure_schema() >> rebuild()


retail_gold_rebuild()
