"""End to end: a failed day blocks the later days; `recover` makes the scheduler run them in order.

A real Airflow (LocalAirflow: api-server, scheduler, dag-processor, triggerer on
SQLite) runs a one-task toy DAG (tests/fixtures/dags/toy_in_order.py): catchup,
max_active_runs=1, depends_on_past.
Day 2 fails while a marker file exists. Day 3 must wait; after the marker is
gone, `recover` clears day 2 and re-queues day 3, and the days run 2, 3, 4.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from reliable_etl_dev.airflow_local import LocalAirflow, RunInfo
from reliable_etl_dev.testing import FIXTURE_DAGS
from reliable_etl_plugin.recovery import recover

DAG_ID = "toy_in_order"  # tests/fixtures/dags/toy_in_order.py
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
FAIL_DAY = DAYS[1]  # the toy DAG's FAIL_DAY


def _by_day(runs: list[RunInfo]) -> dict[str, RunInfo]:
    return {r.logical_date.date().isoformat(): r for r in runs if r.logical_date}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_failed_day_is_rerun_before_later_days(tmp_path: Path, airflow_metadata_db: str) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    marker = tmp_path / f"{DAG_ID}.fail"  # the toy DAG's files in TOY_DAG_STATE_DIR
    marker.touch()
    processed = tmp_path / f"{DAG_ID}.log"
    shutil.copy(FIXTURE_DAGS / f"{DAG_ID}.py", dags)
    env = {"TOY_DAG_STATE_DIR": str(tmp_path)}

    def done_days() -> list[str]:
        return processed.read_text().split() if processed.exists() else []

    with LocalAirflow(tmp_path / "airflow", dags, env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed(DAG_ID, timeout=60)
        af.unpause(DAG_ID)

        # Day 2 fails; day 3 starts but its task waits on day 2 (depends_on_past).
        def day3_blocked() -> bool:
            runs = _by_day(af.runs(DAG_ID))
            return (
                FAIL_DAY in runs
                and runs[FAIL_DAY].state == "failed"
                and DAYS[2] in runs
                and runs[DAYS[2]].state == "running"
            )

        af.wait_until(day3_blocked, timeout=90, what="day 2 failed and day 3 running")
        time.sleep(3)  # give the scheduler a few loops: day 3 must stay blocked
        runs = _by_day(af.runs(DAG_ID))
        assert runs[DAYS[2]].state == "running"
        assert DAYS[3] not in runs  # max_active_runs=1: no day 4 yet
        assert af.task_states(DAG_ID, runs[DAYS[2]].run_id)["process"] in (None, "scheduled")
        assert done_days() == DAYS[:1]

        # A dry run reports the plan and changes nothing.
        plan = recover(DAG_ID, airflow=af.api, dry_run=True)
        print(plan)
        assert plan.failed_run == runs[FAIL_DAY].run_id
        assert plan.requeued == [runs[DAYS[2]].run_id]
        assert len(plan.cleared) == 1
        assert af.runs(DAG_ID) == list(runs.values())

        marker.unlink()
        report = recover(DAG_ID, airflow=af.api)
        print(report)
        assert report.failed_run == plan.failed_run
        assert report.requeued == plan.requeued
        assert report.cleared == plan.cleared

        def all_done() -> bool:
            runs = af.runs(DAG_ID)
            return len(runs) == len(DAYS) and all(r.state == "success" for r in runs)

        af.wait_until(all_done, timeout=120, what="all days succeeded")
        for r in af.runs(DAG_ID):
            print(r.logical_date.date(), r.state, r.start_date.time(), r.end_date.time())

    assert done_days() == DAYS  # each day once, the failed day before every later day
    assert done_days() == sorted(set(done_days()))
