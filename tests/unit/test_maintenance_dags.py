"""The maintenance DAGs parse, run on their cadences, and the nightly DAGs carry their Deadline Alerts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronTriggerTimetable, DeadlineReference

DAGS = Path(__file__).resolve().parents[2] / "dags"
CADENCES = {
    "etl_maintenance_health": ("*/30 * * * *", {"health_check"}),
    "etl_maintenance_daily": ("30 3 * * *", {"backup_critical_data", "cleanup_old_data"}),
    "etl_maintenance_weekly": ("0 4 * * 0", {"optimize_database"}),
    "etl_health": ("0 */6 * * *", {"watchdog"}),
}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


@pytest.mark.parametrize("dag_id", sorted(CADENCES))
def test_cadence_and_tasks(dagbag: DagBag, dag_id: str) -> None:
    expression, tasks = CADENCES[dag_id]
    dag = dagbag.dags[dag_id]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == expression
    assert str(dag.timetable.timezone) == "UTC"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert set(dag.task_ids) == tasks
    assert all(not t.upstream_task_ids for t in dag.tasks)  # independent: one failing does not skip another


def test_the_mirror_runs_when_gold_changed(dagbag: DagBag) -> None:
    from airflow.sdk.definitions.asset import AssetAll

    condition = dagbag.dags["etl_analytics_mirror"].timetable.asset_condition
    assert isinstance(condition, AssetAll)  # the three are emitted together by one publishing task
    assert {a.name for a in condition.objects} == {
        "gold.fact_sales_monthly",
        "gold.fact_product_performance",
        "gold.fact_country_sales",
    }


@pytest.mark.parametrize(
    ("dag_id", "interval"),
    [("retail_daily", dt.timedelta(days=1, hours=8)), ("files_nightly", dt.timedelta(hours=6))],
)
def test_nightly_dags_carry_a_deadline_alert(dagbag: DagBag, dag_id: str, interval: dt.timedelta) -> None:
    deadlines = dagbag.dags[dag_id].deadline
    deadline = deadlines[0] if isinstance(deadlines, list) else deadlines
    assert deadline.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert deadline.interval == interval
    assert deadline.callback.path == "reliable_etl_plugin.deadlines.notify_missed_deadline"
