"""The pipelines the faults hit: retail days, the Jira/GitHub syncs, a night of fixed-width files.

A workload is a list of `etl` commands (what a run does, in order), the failpoints they pass
with how many times each is reached in a clean run, and the tables that define its result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import psycopg

from chaos.compare import Snapshot, snapshot
from chaos.workspace import Ran, Workspace
from reliable_etl_dev import SAMPLE_CSV

RETAIL_TABLES = {
    "bronze.retail_sales": (
        "select business_date, row_number() over (partition by business_date order by record_no) as line,"
        " invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country"
        " from bronze.retail_sales"
    ),
    "bronze.retail_files": "select business_date, file_name, sha256, size_bytes, row_count from bronze.retail_files",
    "silver.fact_sales_daily": "select * from silver.fact_sales_daily",
    "silver.day_fingerprint": (
        "select sales_date, source_sha256, row_count, net_amount, fingerprint from silver.day_fingerprint"
    ),
    "gold.fact_sales_monthly": "select * from gold.fact_sales_monthly",
    "gold.fact_product_performance": "select * from gold.fact_product_performance",
    "gold.fact_country_sales": "select * from gold.fact_country_sales",
    "ops.processed_months": (
        "select pipeline_name, month_key, year, month, status, input_fingerprint, input_rows from ops.processed_months"
    ),
    "ops.rejected_rows": "select pipeline_name, source, line, raw, reason, unit_key from ops.rejected_rows",
}
SYNC_TABLES = {
    "sync.github_pull_requests": (
        "select id, database_id, repo, number, title, state, is_draft, author_login, created_at, updated_at,"
        " closed_at, merged_at, additions, deletions, changed_files, base_ref, head_ref, url, labels, deleted_at"
        " from sync.github_pull_requests"
    ),
    "sync.jira_issues": (
        "select id, key, project_key, summary, status, status_category, issue_type, priority, assignee, reporter,"
        " created_at, updated_at, resolved_at, labels, fields, deleted_at from sync.jira_issues"
    ),
    "ops.sync_jobs": (
        "select service, entity, status, needs_attention, watermark_ts, watermark_id, db_count from ops.sync_jobs"
    ),
    "ops.rejected_rows": "select pipeline_name, source, line, raw, reason, unit_key from ops.rejected_rows",
}


@dataclass(frozen=True)
class Point:
    """A failpoint a workload's command passes ``hits`` times in a clean run."""

    area: str
    name: str
    command: int  # index into the workload's commands
    hits: int


@dataclass
class Workload:
    name: str
    points: list[Point] = field(default_factory=list)
    env_args: dict = field(default_factory=dict)  # Workspace.env arguments (the fake server's URL)

    def commands(self, trial_dir: Path) -> list[list[str]]:
        raise NotImplementedError

    def prepare(self, trial_dir: Path) -> None:
        """Set up what a run starts from (files to drop)."""
        trial_dir.mkdir(parents=True, exist_ok=True)

    def snapshot(self, conn: psycopg.Connection, trial_dir: Path) -> Snapshot:
        raise NotImplementedError

    def run(self, ws: Workspace, db: str, trial_dir: Path, label: str, **env_args) -> list[Ran]:
        """Every command once, in order, stopping at the first that fails."""
        done = []
        for n, argv in enumerate(self.commands(trial_dir)):
            done.append(ws.etl(argv, db=db, label=f"{label}-{n}", **{**self.env_args, **env_args}))
            if done[-1].rc != 0:
                break
        return done


class RetailWorkload(Workload):
    """``etl retail run`` over the days of a landing directory, then ``etl retail gold`` (the open month)."""

    def __init__(self, name: str, landing: Path, first: dt.date, last: dt.date) -> None:
        super().__init__(name)
        self.landing, self.first, self.last = landing, first, last
        days = (last - first).days + 1
        months = sorted({(first + dt.timedelta(n)).strftime("%Y-%m") for n in range(days)})
        closed = sum(1 for n in range(days) if (first + dt.timedelta(n + 1)).day == 1)
        open_months = len(months) - closed
        # gold: three table files per month (RETAIL_GOLD_ARGS), the unit's ledger after them
        self.points = [
            Point("bronze load", "retail.bronze.copied", 0, days),
            Point("bronze load", "retail.day.written", 0, days),
            Point("gold upsert", "gold.table.upserted", 0, 3 * closed),
            Point("gold upsert", "gold.unit.written", 0, closed),
        ]
        if open_months:
            self.points += [
                Point("gold upsert", "gold.table.upserted", 1, 3 * open_months),
                Point("gold upsert", "gold.unit.written", 1, open_months),
            ]

    @classmethod
    def sample(cls, root: Path) -> RetailWorkload:
        """The shipped sample: 14 days across the January/February month end."""
        from reliable_etl.retail.landing import split_export

        split_export(SAMPLE_CSV, root / "landing")
        return cls("retail-14d", root / "landing", dt.date(2011, 1, 24), dt.date(2011, 2, 6))

    @classmethod
    def long(cls, root: Path) -> RetailWorkload:
        """62 generated days across three month ends: long enough to be hit mid-run."""
        from reliable_etl.retail.landing import split_export
        from reliable_etl_dev.sample import write_sample

        first = dt.date(2011, 1, 20)
        write_sample(root / "export.csv", first, 62)
        split_export(root / "export.csv", root / "landing")
        return cls("retail-62d", root / "landing", first, first + dt.timedelta(61))

    def days_argv(self, first: dt.date | None = None, last: dt.date | None = None) -> list[str]:
        first, last = first or self.first, last or self.last
        return ["retail", "run", "--from", str(first), "--to", str(last), "--landing", str(self.landing)]

    def commands(self, trial_dir: Path) -> list[list[str]]:
        return [self.days_argv(), ["retail", "gold"]]

    def snapshot(self, conn: psycopg.Connection, trial_dir: Path | None = None) -> Snapshot:
        return snapshot(conn, RETAIL_TABLES)

    def day_rows(self, conn: psycopg.Connection) -> dict[str, dict[str, int]]:
        """Rows per day in bronze and silver, and whether the day has its fingerprint."""
        found: dict[str, dict[str, int]] = {}
        for table, column in (
            ("bronze.retail_sales", "business_date"),
            ("silver.fact_sales_daily", "sales_date"),
            ("silver.day_fingerprint", "sales_date"),
        ):
            for day, count in conn.execute(f"select {column}::text, count(*) from {table} group by 1"):
                found.setdefault(day, {})[table] = count
        return found


class SyncWorkload(Workload):
    """``etl sync github`` then ``etl sync jira``, one entity at a time, against a fake server."""

    REPOS: ClassVar[dict[str, int]] = {"acme/api": 180, "acme/web": 70}  # pages of 50: 4 and 2
    PROJECTS: ClassVar[dict[str, int]] = {"ENG": 160, "OPS": 60}

    def __init__(self, fake_url: str) -> None:
        super().__init__("sync", env_args={"fake_url": fake_url})
        pages = 6  # per service, with the counts above
        self.points = [
            Point("sync pages", f"{service}.page.{step}", command, pages)
            for command, service in enumerate(("github", "jira"))
            for step in ("fetched", "upserted", "checkpointed", "committed")
        ]

    @classmethod
    def seed(cls, fake) -> None:
        for repo, count in cls.REPOS.items():
            fake.github.add_repo(repo, count=count, seed=11)
        for project, count in cls.PROJECTS.items():
            fake.jira.add_project(project, count=count, seed=11)

    def commands(self, trial_dir: Path) -> list[list[str]]:
        return [
            ["sync", "github", "--repos", ",".join(self.REPOS), "--concurrency", "1"],
            ["sync", "jira", "--projects", ",".join(self.PROJECTS), "--concurrency", "1"],
        ]

    def snapshot(self, conn: psycopg.Connection, trial_dir: Path | None = None) -> Snapshot:
        return snapshot(conn, SYNC_TABLES)


# --- a night of fixed-width files -------------------------------------------------------------

CUSTOMERS = {
    "filename": "customers.txt",
    "table_name": "customers",
    "encoding": "cp1252",
    "line_ending": "lf",
    "header_lines": 1,
    "record_length": 40,
    "columns": [
        {"name": "customer_id", "start": 0, "width": 6, "type": "int", "required": True},
        {"name": "name", "start": 6, "width": 16, "required": True},
        {"name": "birth", "start": 22, "width": 10, "type": "date", "format": "%m/%d/%Y"},
        {"name": "credit", "start": 32, "width": 4, "type": "decimal", "implied_decimals": 2},
        {"name": "grade", "start": 36, "width": 4, "type": "int"},
    ],
    "field_mapping": {"customer_id": "customer_id", "name": "name", "birth": "birth_date", "credit": "credit"},
}


def _purchases(filename: str, table: str) -> dict:
    return {
        "filename": filename,
        "table_name": table,
        "encoding": "utf-8",
        "line_ending": "crlf",
        "header_lines": 1,
        "record_length": 26,
        "columns": [
            {"name": "customer_id", "start": 1, "width": 5, "type": "int", "required": True},
            {"name": "date", "start": 7, "width": 8, "type": "date", "format": "%Y%m%d", "required": True},
            {"name": "number_of_cds", "start": 15, "width": 3, "type": "int", "required": True},
            {"name": "dollar_value", "start": 18, "width": 8, "type": "decimal", "required": True},
        ],
        "field_mapping": {
            "customer_id": "customer_id",
            "date": "purchase_date",
            "number_of_cds": "cd_count",
            "dollar_value": "amount",
        },
    }


RELATIONSHIPS = {
    "primary_keys": {"customers": ["customer_id"]},
    "file_to_table": {"customers.txt": "customers", "purchases.txt": "purchases", "returns.txt": "returns"},
    "file_layouts": [
        CUSTOMERS,
        _purchases("purchases.txt", "purchases"),
        _purchases("returns.txt", "returns"),
    ],
}
NAMES = ["Zoë", "Ana", "Björn", "Chloé", "Dan", "Eve", "Fañch", "Gül", "Hélène", "Ivo", "Jörg", "Kai"]


def customer(cid: int, name: str, birth: str = "02/29/2008", credit: str = "0350", grade: str = "  10") -> str:
    return f"{cid:06d}{name:<16}{birth:<10}{credit:>4}{grade:>4}"


def customers_file(path: Path, rows: list[str]) -> Path:
    path.write_bytes(("HEADER customers export\n" + "".join(r + "\n" for r in rows)).encode("cp1252"))
    return path


def customer_rows(count: int, rng: random.Random) -> list[str]:
    return [
        customer(
            n,
            f"{rng.choice(NAMES)} {n}",
            f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1950, 2008)}",
            f"{rng.randint(0, 9999):04d}",
        )
        for n in range(1, count + 1)
    ]


def purchases_file(path: Path, count: int, rng: random.Random) -> Path:
    lines = [" customer_id  date  cds  dollars"]
    start = dt.date(1997, 1, 1)
    for _ in range(count):
        day = start + dt.timedelta(rng.randint(0, 540))
        lines.append(
            f" {rng.randint(1, 23570):05d} {day:%Y%m%d} {rng.randint(1, 20):>2} {rng.randint(0, 99999) / 100:>7.2f}"
        )
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


class FilesWorkload(Workload):
    """``etl files load`` of a night of three files (one with a primary key), notifications on."""

    TABLES = ("customers", "purchases", "returns")

    def __init__(self, root: Path) -> None:
        super().__init__("files")
        self.root = root
        self.relationships = root / "relationships.json"
        self.night = root / "night"
        self.night.mkdir(parents=True, exist_ok=True)
        self.relationships.write_text(json.dumps(RELATIONSHIPS, indent=2), encoding="utf-8")
        rng = random.Random(20111)
        customers_file(self.night / "customers.txt", customer_rows(300, rng))
        purchases_file(self.night / "purchases.txt", 500, rng)
        purchases_file(self.night / "returns.txt", 120, rng)
        self.points = [
            Point("file load", name, 0, 3)
            for name in ("files.staged", "files.swapped", "files.recorded", "files.committed")
        ]

    def prepare(self, trial_dir: Path) -> None:
        (trial_dir / "drop").mkdir(parents=True, exist_ok=True)
        for path in self.night.iterdir():
            shutil.copy(path, trial_dir / "drop" / path.name)

    def load_argv(self, trial_dir: Path, *, notify: bool = True) -> list[str]:
        argv = ["files", "load", "--relationships", str(self.relationships), "--dir", str(trial_dir / "drop")]
        argv += ["--archive", str(trial_dir / "archive")]
        return argv if notify else [*argv, "--no-notify"]

    def commands(self, trial_dir: Path) -> list[list[str]]:
        return [self.load_argv(trial_dir)]

    def snapshot(self, conn: psycopg.Connection, trial_dir: Path) -> Snapshot:
        queries = {f"files.{t}": f"select * from files.{t}" for t in self.TABLES if _exists(conn, f"files.{t}")}
        queries["ops.file_loads (loaded)"] = (
            "select file_name, sha256, table_name, records, loaded, rejected from ops.file_loads"
            " where status = 'loaded'"
        )
        result = snapshot(conn, queries)
        result["archive"] = _files(trial_dir / "archive")
        result["drop"] = _files(trial_dir / "drop")
        return result


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def _files(directory: Path):
    from collections import Counter

    if not directory.is_dir():
        return Counter()
    return Counter(
        f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in directory.rglob("*") if p.is_file()
    )
