"""Glue between files_nightly's tasks and the package's functions (the CLI calls the same ones)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
from pathlib import Path

from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

from reliable_etl.config import settings
from reliable_etl.errors import BadInputError
from reliable_etl.files.layouts import load_relationships
from reliable_etl.files.load import find_files, finish_run, load_file, results_for_run, start_run


def poke_for_files(*, run_id: str, logical_date: dt.datetime | None) -> PokeReturnValue:
    """Done when every declared name has its file; past the deadline, fail naming the missing ones."""
    cfg = settings()
    try:
        found, missing = find_files(load_relationships(cfg.files_relationships), cfg.files_drop_dir)
    except BadInputError as exc:
        raise AirflowFailException(str(exc)) from exc
    deadline = (logical_date or dt.datetime.now(dt.UTC)) + dt.timedelta(hours=cfg.files_wait_hours)
    if missing and dt.datetime.now(dt.UTC) > deadline:
        raise AirflowFailException(
            f"{', '.join(missing)} did not arrive in {cfg.files_drop_dir} by {deadline:%Y-%m-%d %H:%M} UTC"
        )
    if missing:
        return PokeReturnValue(is_done=False)
    start_run(run_id)
    return PokeReturnValue(is_done=True, xcom_value=[str(p) for p in found.values()])


def load_one(path: str, *, run_id: str) -> dict:
    """One file, all or nothing; bad input fails the task at once (retrying cannot help)."""
    try:
        return load_file(Path(path), load_relationships(settings().files_relationships), run_id=run_id).as_dict()
    except BadInputError as exc:
        raise AirflowFailException(str(exc)) from exc


def report_run(*, run_id: str, started: dt.datetime | None, found: list[str] | None = None) -> dict:
    """Close the run in ops.pipeline_runs from the ledger and notify, once; returns what was sent.

    ``found`` is what wait_for_files handed over (None when it failed). If a file failed, was
    refused or never came, the task then fails with AirflowFailException naming them: not
    retried, so not notified twice, and the run's state in Airflow says what happened.
    """
    from reliable_etl.files.report import run_report
    from reliable_etl.notify import notify

    results = results_for_run(run_id)
    seen = [r.file for r in results]
    arrived = [Path(p).name for p in found or []]
    names = dict.fromkeys(layout.filename for layout in load_relationships(settings().files_relationships).layouts)
    missing = [name for name in names if not any(fnmatch.fnmatchcase(f, name) for f in seen + arrived)]
    lost = [name for name in arrived if name not in seen]  # its load_file ended without an outcome
    problems = []
    if missing:
        problems.append(f"no file for {', '.join(missing)}")
    if lost:
        problems.append(f"no outcome recorded for {', '.join(lost)} (see its load_file task)")
    error = "; ".join(problems) or None
    status = finish_run(run_id, results, error=error)
    duration = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else None
    report = run_report(run_id, status, results, duration_s=duration)
    if error:
        report = dataclasses.replace(report, summary=f"{report.summary}; {error}")
    sent = notify(report)  # the last thing before failing: nothing after it can make Airflow retry
    if status == "error":
        failed = [f"{r.file} {r.status}" for r in results if r.status in {"failed", "refused"}]
        notified = ", ".join(f"{channel} {outcome}" for channel, outcome in sent.items())
        raise AirflowFailException(f"run {run_id} failed: {'; '.join(failed + problems)} (notified: {notified})")
    return {"status": status, "summary": report.summary, "notifications": sent}
