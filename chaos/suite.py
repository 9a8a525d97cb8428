"""The suite runner: trial counts (full and CI), the shared workloads and clean runs, the report."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from chaos import report
from chaos.compare import Snapshot
from chaos.report import CaseResult, Trial
from chaos.workloads import FilesWorkload, RetailWorkload, Workload
from chaos.workspace import Workspace
from reliable_etl_dev import ROOT as PROJECT_ROOT

log = logging.getLogger("chaos")

# case name -> module under chaos.cases; run in this order, the secrets case last
CASES = {
    "sigkill": "kill",
    "pg_crash": "outage",
    "terminate": "outage",
    "lock": "outage",
    "concurrent": "concurrent",
    "api_faults": "api_faults",
    "bad_files": "bad_files",
    "broker": "broker",
    "secrets": "secrets",
}
# trials per case: `make chaos` (full) and the subset `make test` runs (ci)
FULL = {
    "sigkill": 20,
    "pg_crash": 4,
    "terminate": 4,
    "lock": 4,
    "concurrent": 8,
    "api_faults": 2,  # per row of the matrix
    "bad_files": 1,  # per file of the corpus (each deterministic)
    "broker": 4,
    "secrets": 1,
}
CI = {
    "sigkill": 4,
    "pg_crash": 1,
    "terminate": 1,
    "lock": 2,
    "concurrent": 3,
    "api_faults": 1,
    "bad_files": 1,
    "broker": 2,  # one restart, one crash: an Airflow with two Celery workers, ~1.5 min here
    "secrets": 1,
}


@dataclass
class Context:
    """What the cases share: the workspace, the seed, the counts, workloads and their clean runs."""

    ws: Workspace
    seed: int
    sizes: dict[str, int]
    ci: bool = False
    _workloads: dict[str, Workload] = field(default_factory=dict)
    _clean: dict[str, Snapshot] = field(default_factory=dict)
    clean_databases: dict[str, str] = field(default_factory=dict)  # key -> the clean run's database

    def rng(self, case: str) -> random.Random:
        return random.Random(f"{self.seed}:{case}")

    def trial_dir(self, label: str) -> Path:
        path = self.ws.root / "trials" / label
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _workload(self, name: str, make: Callable[[Path], Workload]) -> Workload:
        if name not in self._workloads:
            root = self.ws.root / "data" / name
            root.mkdir(parents=True, exist_ok=True)
            self._workloads[name] = make(root)
        return self._workloads[name]

    def retail_sample(self) -> RetailWorkload:
        return self._workload("retail-14d", RetailWorkload.sample)  # type: ignore[return-value]

    def retail_long(self) -> RetailWorkload:
        return self._workload("retail-62d", RetailWorkload.long)  # type: ignore[return-value]

    def files(self) -> FilesWorkload:
        return self._workload("files", FilesWorkload)  # type: ignore[return-value]

    def clean(self, workload: Workload, key: str | None = None) -> Snapshot:
        """The workload's tables after one clean run, in a database of their own (computed once per key)."""
        key = key or workload.name
        if key not in self._clean:
            db = self.ws.database(f"clean_{key.replace('-', '_')}")
            trial_dir = self.trial_dir(f"clean-{key}")
            workload.prepare(trial_dir)
            ran = workload.run(self.ws, db, trial_dir, f"clean-{key}")
            if ran[-1].rc != 0:
                raise RuntimeError(f"the clean run of {key} failed:\n{ran[-1].tail()}")
            with self.ws.connect(db) as conn:
                self._clean[key] = workload.snapshot(conn, trial_dir)
            self.clean_databases[key] = db
        return self._clean[key]


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _meta(ws: Workspace, seed: int, ci: bool, command: str) -> dict:
    with psycopg.connect(ws.admin_uri) as conn:
        version = conn.execute("show server_version").fetchone()[0]
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    return {
        "command": command,
        "seed": seed,
        "mode": "CI" if ci else "full",
        "commit": _git("rev-parse", "--short", "HEAD") + dirty,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        "postgres": version.split()[0],
    }


def run_suite(
    out_dir: Path,
    admin_uri: str,
    *,
    seed: int = 20111,
    ci: bool = False,
    only: list[str] | None = None,
    command: str = "python -m chaos",
    keep: bool = False,
    trials: dict[str, int] | None = None,
) -> tuple[list[CaseResult], dict]:
    """Run the cases (all, or ``only``; the secrets case always last), write report.json and report.md."""
    unknown = set(only or []) - set(CASES)
    if unknown:
        raise ValueError(f"unknown case(s) {sorted(unknown)}: expected some of {list(CASES)}")
    names = [name for name in CASES if not only or name in only]
    ws = Workspace(out_dir / "work", admin_uri)
    ctx = Context(ws, seed, {**(CI if ci else FULL), **(trials or {})}, ci)
    cases: list[CaseResult] = []
    started = time.monotonic()
    meta = _meta(ws, seed, ci, command)
    try:
        for name in names:
            module = importlib.import_module(f"chaos.cases.{CASES[name]}")
            log.info("case %s ...", name)
            began = time.monotonic()
            try:
                result = module.CASES[name](ctx)
            except Exception as exc:  # a broken case is a failed row of the report, not a lost report
                log.exception("case %s crashed", name)
                result = CaseResult(name, name, "the case ran to its end.", "not applicable.")
                result.trials.append(Trial("the case itself", False, None, None, detail=f"crashed: {exc!r}"))
            result.seconds = time.monotonic() - began
            cases.append(result)
            failed = len(result.failures())
            log.info(
                "case %s: %s in %.0f s",
                name,
                f"skipped ({result.skipped})"
                if result.skipped
                else f"{len(result.trials) - failed}/{len(result.trials)} survived",
                result.seconds,
            )
    finally:
        if not keep:
            ws.close()
    elapsed = time.monotonic() - started
    meta["duration"] = f"{int(elapsed // 60)} min {int(elapsed % 60)} s"
    meta["seconds"] = round(elapsed, 1)
    report.write(out_dir, meta, cases)
    return cases, meta
