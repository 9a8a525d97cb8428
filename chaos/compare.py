"""Table contents as row multisets, compared with a clean run: rows lost, rows extra (duplicates).

A snapshot maps a label ("silver.fact_sales_daily") to a Counter of its rows, each row the
database's own text form of the columns that define the data (no load times, no run ids,
no sequence numbers: bronze's ``record_no`` becomes the line's number within its day).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import psycopg

Snapshot = dict[str, Counter]

# When the pipelines committed units of work: stage ends (retail, gold, files), synced rows and
# finished sync passes. Time to recover = the first of these after the fault.
COMMITS = """
    select min(t) from (
        select end_time as t from ops.pipeline_checkpoint where status = 'completed'
        union all select synced_at from sync.github_pull_requests
        union all select synced_at from sync.jira_issues
        union all select at from ops.sync_transitions where to_status = 'FINISHED'
        union all select at from ops.file_loads where status in ('loaded', 'unchanged')
    ) as commits where t > %s
"""


def snapshot(conn: psycopg.Connection, queries: dict[str, str]) -> Snapshot:
    """Each query's rows, as text, counted."""
    return {
        label: Counter(row[0] for row in conn.execute(f"select q::text from ({query}) as q"))
        for label, query in queries.items()
    }


@dataclass
class Diff:
    lost: int = 0  # rows of the clean run missing
    extra: int = 0  # rows beyond the clean run's: second copies, or rows it does not have
    tables: list[str] = field(default_factory=list)  # labels that differ

    @property
    def equal(self) -> bool:
        return not (self.lost or self.extra or self.tables)

    def describe(self) -> str:
        return f"{self.lost} rows lost, {self.extra} extra, differing: {', '.join(self.tables)}"


def diff(clean: Snapshot, got: Snapshot, labels: list[str] | None = None) -> Diff:
    result = Diff()
    for label in labels or clean:
        want, have = clean.get(label, Counter()), got.get(label, Counter())
        lost, extra = sum((want - have).values()), sum((have - want).values())
        if lost or extra:
            result.lost += lost
            result.extra += extra
            result.tables.append(label)
    return result


def first_commit_after(conn: psycopg.Connection, moment: dt.datetime) -> dt.datetime | None:
    return conn.execute(COMMITS, (moment,)).fetchone()[0]


def seconds_to_recover(conn: psycopg.Connection, fault_at: dt.datetime) -> float | None:
    """From the fault to the first unit of work committed after it."""
    committed = first_commit_after(conn, fault_at)
    return round((committed - fault_at).total_seconds(), 3) if committed else None


def stale_ledger_rows(conn: psycopg.Connection) -> int:
    """Stage rows still in progress and runs still running: what a lost process leaves unclosed."""
    return conn.execute(
        "select (select count(*) from ops.pipeline_checkpoint where status = 'in_progress')"
        " + (select count(*) from ops.pipeline_runs where status = 'running')"
    ).fetchone()[0]
