"""The DAG files parse, and their scheduling contract is the documented one."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import Asset, CronDataIntervalTimetable

from reliable_etl.config import settings

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
GOLD_ASSET_NAMES = {"gold.fact_sales_monthly", "gold.fact_product_performance", "gold.fact_country_sales"}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "retail_daily",
        "retail_gold_rebuild",
        "engineering_sync",
        "files_nightly",
        "etl_maintenance_health",
        "etl_maintenance_daily",
        "etl_maintenance_weekly",
        "etl_health",
        "etl_analytics_mirror",
    }


def test_shared_code_is_not_parsed_as_dags(dagbag: DagBag) -> None:
    """dags/reliable_etl/ is a package imported by the DAG files, kept out of parsing by .airflowignore."""
    assert {Path(dag.fileloc).parent for dag in dagbag.dags.values()} == {DAGS_DIR}


def test_retail_daily_schedule(dagbag: DagBag) -> None:
    dag = dagbag.dags["retail_daily"]
    timetable = dag.timetable
    assert isinstance(timetable, CronDataIntervalTimetable)
    assert timetable.expression == "0 2 * * *"
    assert str(timetable.timezone) == "UTC"
    assert dag.catchup is True
    assert dag.max_active_runs == 1
    # the first data interval starts at 02:00 UTC of ETL_RETAIL_START_DATE (default 2011-01-24)
    assert dag.start_date == dt.datetime.combine(settings().retail_start_date, dt.time(2), dt.UTC)


def test_retail_daily_tasks_in_order(dagbag: DagBag) -> None:
    dag = dagbag.dags["retail_daily"]
    assert set(dag.task_ids) == {"wait_for_landing_file", "load_day", "publish_gold"}
    wait, load, publish = (dag.get_task(t) for t in ("wait_for_landing_file", "load_day", "publish_gold"))
    assert wait.upstream_task_ids == set()
    assert wait.downstream_task_ids == {"load_day"}
    assert load.downstream_task_ids == {"publish_gold"}
    assert publish.downstream_task_ids == set()


def test_retail_daily_task_policy(dagbag: DagBag) -> None:
    """A failed day blocks the later ones; transient failures are retried with backoff."""
    for task in dagbag.dags["retail_daily"].tasks:
        assert task.depends_on_past is True, task.task_id
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        assert task.retry_delay >= dt.timedelta(seconds=10), task.task_id
        assert task.max_retry_delay is not None, task.task_id


def test_landing_sensor_does_not_hold_a_worker_slot(dagbag: DagBag) -> None:
    sensor = dagbag.dags["retail_daily"].get_task("wait_for_landing_file")
    assert sensor.mode == "reschedule"
    assert sensor.poke_interval >= 60
    assert sensor.timeout > 0


def test_publish_gold_produces_the_gold_assets(dagbag: DagBag) -> None:
    dag = dagbag.dags["retail_daily"]
    outlets = dag.get_task("publish_gold").outlets
    assert all(isinstance(o, Asset) for o in outlets)
    assert {o.name for o in outlets} == GOLD_ASSET_NAMES
    assert len(outlets) == 3
    for task_id in ("wait_for_landing_file", "load_day"):
        assert dag.get_task(task_id).outlets == []


def test_retail_gold_rebuild_is_manual_with_params(dagbag: DagBag) -> None:
    dag = dagbag.dags["retail_gold_rebuild"]
    assert dag.timetable.can_be_scheduled is False  # schedule=None
    assert dag.max_active_runs == 1
    assert dict(dag.params) == {"year": None, "month": None, "reset": False, "dry_run": False}
    assert {o.name for o in dag.get_task("rebuild").outlets} == GOLD_ASSET_NAMES


@pytest.mark.parametrize(
    ("dag_id", "params", "valid"),
    [
        ("retail_gold_rebuild", {"year": 2011, "month": 3}, True),
        ("retail_gold_rebuild", {"month": 13}, False),
        ("retail_gold_rebuild", {"year": "2011"}, False),
        ("retail_gold_rebuild", {"reset": "yes"}, False),
        ("engineering_sync", {"repos": ["acme/api"], "projects": ["ENG"], "full_refresh": True}, True),
        ("engineering_sync", {"repos": ["not a repo"]}, False),
        ("engineering_sync", {"projects": ["eng"]}, False),
        ("engineering_sync", {"full_refresh": "yes"}, False),
    ],
)
def test_manual_params_are_validated(dagbag: DagBag, dag_id: str, params: dict, valid: bool) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    def trigger_with() -> None:
        conf = copy.deepcopy(dagbag.dags[dag_id].params)
        for key, value in params.items():
            conf[key] = value  # validated against the Param's schema
        conf.validate()

    if valid:
        trigger_with()
    else:
        with pytest.raises(ParamValidationError, match="Invalid input for param"):
            trigger_with()


def test_every_dag_follows_the_policy(dagbag: DagBag) -> None:
    """Every DAG has an owner, tags and documentation."""
    for dag_id, dag in dagbag.dags.items():
        assert dag.owner, dag_id
        assert dag.owner != "airflow", dag_id  # the default, i.e. nobody
        assert all(task.owner == dag.owner for task in dag.tasks), dag_id
        assert dag.tags, dag_id
        assert dag.doc_md, dag_id
        assert dag.doc_md.strip().startswith(f"### {dag_id}"), dag_id


def test_missing_landing_file_is_waited_for_then_fails_naming_it(
    dagbag: DagBag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor pokes (no worker held between pokes) until the deadline, then names the file."""
    from airflow.sdk.exceptions import AirflowFailException

    poke = dagbag.dags["retail_daily"].get_task("wait_for_landing_file").python_callable
    # the DAG module's settings, as the dag-processor loaded it
    monkeypatch.setitem(poke.__globals__, "cfg", dataclasses.replace(settings(), retail_landing_dir=tmp_path))
    start = dt.datetime(2011, 1, 30, 2, tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)

    recent = poke(data_interval_start=now - dt.timedelta(days=1), data_interval_end=now)
    assert recent.is_done is False  # before the deadline: wait

    with pytest.raises(AirflowFailException, match=r"retail_2011-01-30\.csv did not arrive by 2011-01-31 08:00"):
        poke(data_interval_start=start, data_interval_end=start + dt.timedelta(days=1))

    (tmp_path / "retail_2011-01-30.csv").write_text("InvoiceNo\n")
    arrived = poke(data_interval_start=start, data_interval_end=start + dt.timedelta(days=1))
    assert arrived.is_done is True
    assert arrived.xcom_value == str(tmp_path / "retail_2011-01-30.csv")


def test_engineering_sync_schedule_and_params(dagbag: DagBag) -> None:
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags["engineering_sync"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 * * * *"  # hourly
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert set(dag.params) == {"full_refresh", "repos", "projects"}
    assert dag.params["full_refresh"] is False


def test_engineering_sync_maps_one_task_per_entity_in_per_service_pools(dagbag: DagBag) -> None:
    import json

    from reliable_etl.config import resource

    dag = dagbag.dags["engineering_sync"]
    pools = json.loads(resource("pools.json").read_text())
    for task_id, pool, operator in (
        ("sync_github", "github_api", "GitHubSyncOperator"),
        ("sync_jira", "jira_api", "JiraSyncOperator"),
    ):
        task = dag.get_task(task_id)
        assert task.pool == pool
        assert pool in pools
        assert task.operator_name == operator
        assert task.upstream_task_ids == {"ensure_schema", "repos" if pool == "github_api" else "projects"}
        assert task.retries >= 2


def test_files_nightly_waits_loads_each_file_and_always_reports(dagbag: DagBag) -> None:
    from airflow.sdk import CronTriggerTimetable

    dag = dagbag.dags["files_nightly"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 2 * * *"
    assert str(dag.timetable.timezone) == "UTC"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    sensor, load, report = (dag.get_task(t) for t in ("wait_for_files", "load_file", "report"))
    assert sensor.mode == "reschedule"  # no worker slot held between pokes
    assert sensor.poke_interval >= 60
    assert sensor.upstream_task_ids == {"ensure_schema"}
    assert load.upstream_task_ids == {"wait_for_files"}
    assert report.upstream_task_ids == {"load_file"}
    assert report.trigger_rule == "all_done"  # notifies on failures too
    assert load.retries >= 2  # transient errors; bad input fails at once (AirflowFailException)


# A leaf task that runs after an upstream failure can turn a failed night green: the run's
# state comes from its leaves. Such a leaf must fail the run itself (files_nightly.report
# notifies, then raises when a file failed or never came).
RUNS_AFTER_FAILURES = {
    "all_done",
    "all_done_min_one_success",
    "all_done_setup_success",
    "one_failed",
    "all_failed",
    "one_done",
    "none_skipped",
    "always",
}
FAILS_THE_RUN_ITSELF = {("files_nightly", "report")}


def test_no_leaf_can_turn_a_failed_run_green(dagbag: DagBag) -> None:
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if not task.downstream_task_ids and task.trigger_rule in RUNS_AFTER_FAILURES:
                assert (dag.dag_id, task.task_id) in FAILS_THE_RUN_ITSELF, (dag.dag_id, task.task_id)


def test_every_dag_has_a_one_line_description_and_titled_params(dagbag: DagBag) -> None:
    for dag in dagbag.dags.values():
        assert dag.description, dag.dag_id
        assert "\n" not in dag.description
        assert len(dag.description) <= 120, dag.dag_id
        for name in dag.params:
            assert dag.params.get_param(name).schema.get("title"), (dag.dag_id, name)
