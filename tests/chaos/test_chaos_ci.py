"""The fault-injection suite's CI subset: every case, fewer trials (`python -m chaos --ci`).

The suite runs once for the module (a few minutes; `make chaos` runs the full counts and
writes docs/RELIABILITY.md); each test then checks one case's invariant held in every trial.
"""

from __future__ import annotations

import json

import pytest

from chaos.report import CaseResult
from chaos.suite import CASES, run_suite

pytestmark = [pytest.mark.slow, pytest.mark.chaos]


@pytest.fixture(scope="module")
def suite(pg_server, tmp_path_factory) -> dict[str, CaseResult]:
    out = tmp_path_factory.mktemp("chaos")
    cases, _meta = run_suite(out, pg_server, ci=True, command="python -m chaos --ci (tests/chaos)")
    report = json.loads((out / "report.json").read_text())
    assert [c["name"] for c in report["cases"]] == [c.name for c in cases]
    assert "| Case | Fault | Trials |" in (out / "report.md").read_text()
    return {case.name: case for case in cases}


def failures(case: CaseResult) -> str:
    return "\n".join(f"{t.fault} {t.params}: {t.detail}" for t in case.failures())


@pytest.mark.parametrize("name", [name for name in CASES if name != "secrets"])
def test_the_case_survives_every_trial(suite, name):
    case = suite[name]
    if case.skipped:
        pytest.skip(f"{case.title}: {case.skipped}")
    assert case.trials, f"{name} ran no trial"
    assert case.survived, failures(case)
    assert all(t.rows_lost in (0, None) and t.duplicates in (0, None) for t in case.trials)


def test_no_secret_in_any_task_log_table_or_backup(suite):
    case = suite["secrets"]  # after every other case, on everything they left
    assert {t.fault for t in case.trials} >= {
        "task logs",
        "ops and data tables",
        "backups (pg_restore text and manifest)",
    }
    assert case.survived, failures(case)
    assert all(t.params["scanned"] for t in case.trials if t.fault != "notification bodies")
