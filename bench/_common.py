"""Shared helpers of the benchmarks: a fresh database, timing, tables, JSON.

The server is chosen by reliable_etl_dev.scratch, as for the tests. Every benchmark creates its own
database ``etl_bench_<random>`` and drops it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from reliable_etl_dev import scratch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
REAL_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"


# --- server and database ---------------------------------------------------------------


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    libpq_uri: str  # for plain psycopg connections (the baselines)
    airflow_uri: str  # AIRFLOW_CONN_WAREHOUSE
    server: str  # where the server comes from
    server_version: str
    admin_uri: str  # the server's maintenance database


@contextmanager
def fresh_database(prefix: str = "etl_bench") -> Iterator[BenchDatabase]:
    """Create a database of its own, make it the `warehouse` connection, drop it at the end.

    Call this BEFORE importing reliable_etl.db: the warehouse connection is resolved once per process.
    """
    with scratch.server() as (admin_uri, source), scratch.database(admin_uri, prefix=prefix) as name:
        with psycopg.connect(admin_uri, autocommit=True) as admin:
            version = admin.execute("show server_version").fetchone()[0]
        airflow_uri = scratch.airflow_conn_uri(admin_uri, name)
        os.environ["AIRFLOW_CONN_WAREHOUSE"] = airflow_uri
        yield BenchDatabase(name, scratch.libpq_uri(admin_uri, name), airflow_uri, source, version, admin_uri)


@contextmanager
def airflow_metadata_database(db: BenchDatabase) -> Iterator[str]:
    """An empty database on the same server for a real Airflow's metadata, as a SQLAlchemy URL
    (SQLite answers "database is locked" under the scheduler)."""
    with scratch.database(db.admin_uri, prefix=f"{db.name}_airflow") as name:
        yield scratch.sqlalchemy_uri(db.admin_uri, name)


# --- timing ----------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall times of the repetitions of one measurement, in seconds."""

    name: str
    times: list[float] = field(default_factory=list)
    rows: int | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "times_s": [round(t, 4) for t in self.times],
            "best_s": round(self.best, 4),
            "median_s": round(self.median, 4),
            "rows": self.rows,
            "rows_per_s": round(self.rows / self.best) if self.rows and self.best else None,
            "note": self.note,
            **self.extra,
        }


def measure(
    name: str,
    body: Callable[[], object],
    *,
    repeat: int = 3,
    setup: Callable[[], object] | None = None,
    rows: int | None = None,
    note: str = "",
) -> Timing:
    """Run ``setup`` (untimed) then ``body`` (timed), ``repeat`` times; print a line per run."""
    timing = Timing(name, rows=rows, note=note)
    for i in range(repeat):
        if setup:
            setup()
        started = time.perf_counter()
        body()
        timing.times.append(time.perf_counter() - started)
        print(f"  {name}: run {i + 1}/{repeat}: {timing.times[-1]:.3f} s", flush=True)
    return timing


# --- output ----------------------------------------------------------------------------


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print(line)
    print(line)


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def machine_info(db: BenchDatabase | None = None) -> dict:
    info = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
    try:
        import airflow

        info["airflow"] = airflow.__version__
    except ImportError:
        pass
    if db:
        info.update(postgres=db.server_version, pg_server=db.server)
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def write_results(name: str, payload: dict) -> Path:
    """bench/results/<name>-<UTC timestamp>.json and <name>-latest.json (the folder is gitignored)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(payload, indent=2, default=str)
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS_DIR / f"{name}-latest.json").write_text(text)
    return path


def python_exe() -> str:
    return sys.executable
