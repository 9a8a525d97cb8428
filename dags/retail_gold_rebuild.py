"""
### retail_gold_rebuild: publish gold months on demand

Same code path as `etl retail gold`. Leave year and month empty for every month whose
silver input changed since it was last published; give a year for all its months, a
year and a month for one. `reset` forgets the months' gold and rebuilds it from silver;
`dry_run` only reports what would be processed (see the task log and XCom).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from etl.retail.assets import GOLD_ASSETS


@dag(
    schedule=None,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["retail", "manual"],
    default_args={"owner": "data-platform", "retries": 2},
    params={
        "year": Param(None, type=["null", "integer"], minimum=2000, maximum=2100, description="empty: all years"),
        "month": Param(None, type=["null", "integer"], minimum=1, maximum=12, description="needs a year"),
        "reset": Param(False, type="boolean", description="forget the months' gold and rebuild it"),
        "dry_run": Param(False, type="boolean", description="only show what would be processed"),
    },
)
def retail_gold_rebuild() -> None:
    @task
    def ensure_schema() -> list[str]:
        from etl.ops import init_schema

        return init_schema()

    @task(outlets=GOLD_ASSETS)
    def rebuild(params=None, run_id=None) -> list[dict]:
        from etl.retail.gold import rebuild_gold

        results = rebuild_gold(
            params["year"], params["month"], run_id=run_id, reset=params["reset"], dry_run=params["dry_run"]
        )
        return [vars(r) for r in results]

    ensure_schema() >> rebuild()


retail_gold_rebuild()
