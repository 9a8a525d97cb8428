"""Write-audit-publish checks: SQL assertions on what a unit is about to publish, and their record.

A check runs in the unit's transaction after its rows are written and before the commit. Its
SQL returns one row: the first column, ``passed``, true when the unit may be published; the
other columns are the numbers behind the verdict. A failed ``error`` check rolls the unit back
(`AuditFailedError`: nothing published); a failed ``warning`` is published and reported. Every
verdict goes to ``ops.check_results``: with the unit when it was published, apart when it was not.

Used by the gold units (``GoldSpec.checks``) and the nightly files (their row-count drift).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from reliable_etl import db
from reliable_etl.errors import AuditFailedError, BadInputError
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.retry import retrying

SEVERITIES = ("error", "warning")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Check:
    """A named SQL assertion (``sql``: a file name, looked up like the unit's other files)."""

    name: str
    sql: str
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"check {self.name}: severity must be one of {SEVERITIES}, not {self.severity!r}")
        if not _NAME.match(self.name):
            raise ValueError(f"check {self.name!r}: a plain name (letters, digits, _)")


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one unit, with its numbers."""

    name: str
    severity: str
    passed: bool
    details: dict

    @property
    def label(self) -> str:
        """``passed``, or ``failed (error): gold_net=1, silver_net=2``."""
        if self.passed:
            return "passed"
        numbers = ", ".join(f"{key}={value}" for key, value in self.details.items())
        return f"failed ({self.severity}): {numbers}" if numbers else f"failed ({self.severity})"


def run_check(conn: psycopg.Connection, check: Check, query: str, params: dict, *, where: str) -> CheckResult:
    """The verdict of one check (``query``: its SQL text) on the transaction's rows."""
    cur = conn.execute(query, params)  # type: ignore[call-overload]  # a file's text, values bound
    row = cur.fetchone()
    if row is None or not cur.description:
        raise BadInputError(f"{where}: check {check.name} ({check.sql}) returned no row")
    names = [column.name for column in cur.description]
    details = {name: _number(value) for name, value in zip(names[1:], row[1:], strict=True)}
    return CheckResult(check.name, check.severity, bool(row[0]), details)


def raise_on_errors(results: list[CheckResult], *, what: str) -> None:
    """`AuditFailedError` naming every failed error check of ``what`` and its numbers."""
    failed = [r for r in results if not r.passed and r.severity == "error"]
    if failed:
        verdicts = "; ".join(f"{r.name} {r.label}" for r in failed)
        raise AuditFailedError(f"{what}: {verdicts}; nothing of it was published", results)


def _number(value: object) -> object:
    """A check's number as JSON keeps it (a Decimal as a float, a date as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        return float(value)  # type: ignore[arg-type]  # Decimal
    except (TypeError, ValueError):
        return str(value)


def record(
    conn: psycopg.Connection,
    results: Iterable[CheckResult],
    *,
    pipeline: str,
    target: str,
    unit_key: str,
    run_id: str,
    published: bool,
) -> None:
    """The verdicts in ``ops.check_results``, in the caller's transaction."""
    rows = [
        {
            "pipeline_name": pipeline,
            "target": target,
            "unit_key": unit_key,
            "check_name": result.name,
            "severity": result.severity,
            "passed": result.passed,
            "published": published,
            "details": json.dumps(result.details),
            "run_id": run_id,
        }
        for result in results
    ]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(db.load_sql("ops/insert_check_result"), rows)


def record_rolled_back(
    results: list[CheckResult], *, pipeline: str, target: str, unit_key: str, run_id: str, log: PipelineLogger
) -> None:
    """The verdicts of a unit that was not published, in a transaction of their own (best effort)."""

    def write() -> None:
        with db.transaction(application_name=f"etl {pipeline} checks") as conn:
            record(conn, results, pipeline=pipeline, target=target, unit_key=unit_key, run_id=run_id, published=False)

    try:
        retrying(log=log, what=f"checks of {unit_key}", attempts=3)(write)
    except psycopg.Error:  # the failure itself matters more than its record
        log.warning("could not record the failed checks of %s", unit_key)


def warn_failed(results: Iterable[CheckResult], *, unit_key: str, log: PipelineLogger) -> None:
    """Each failed warning, in the logs (it was published all the same)."""
    for result in results:
        if not result.passed:
            log.warning("%s: check %s %s: published, reported", unit_key, result.name, result.label)
