"""Two runs of the same unit at once: a manual run started while the scheduled one runs (two CLI runs).

Variants in turn, the start offset of the second run seeded: one retail day (a day that closes
its month, or another), one gold month (with and without ``--reset``), one night's files, one
sync of the same repositories. Each run either succeeds or says the unit is busy (exit 75: run
it again later, which the trial then does). Invariant: no row twice, one ``ops.processed_months``
row per month, one "loaded" ledger row per file and table, and every table equal to the clean
run's once the workload has been completed.
"""

from __future__ import annotations

import datetime as dt
import time

from chaos.compare import diff
from chaos.report import CaseResult, Trial
from chaos.workloads import SyncWorkload
from chaos.workspace import TEMPFAIL
from reliable_etl_dev.fakes import FakeServer

VARIANTS = ("retail day", "gold month", "files night", "sync entity")
MONTH_ROWS = "select month_key, count(*) from ops.processed_months group by 1 having count(*) > 1"
FILE_ROWS = (
    "select file_name, table_name, count(*) from ops.file_loads where status = 'loaded'"
    " group by 1, 2 having count(*) > 1"
)


def concurrent(ctx) -> CaseResult:
    case = CaseResult(
        "concurrent",
        "Two runs of one unit at once",
        "no row twice, one ops.processed_months row per month, one 'loaded' ledger row per file and table; each"
        " run succeeds or exits 75 (busy) and its rerun succeeds; every table equals the clean run's.",
        "from the second run's start until both runs (and a busy one's rerun) have ended.",
    )
    rng = ctx.rng("concurrent")
    with FakeServer() as fake:
        SyncWorkload.seed(fake)
        sync = SyncWorkload(fake.url)
        for number in range(ctx.sizes["concurrent"]):
            variant = VARIANTS[number % len(VARIANTS)]
            workload = {
                "retail day": ctx.retail_sample(),
                "gold month": ctx.retail_sample(),
                "files night": ctx.files(),
            }
            case.trials.append(_trial(ctx, variant, workload.get(variant, sync), number, rng))
    return case


def _race(ctx, db: str, *, argv: list[str], label: str, offset: float, env_args: dict) -> tuple[list, float]:
    """Start ``argv`` twice, ``offset`` seconds apart; rerun whichever said busy. (runs, seconds)."""
    ws = ctx.ws
    first = ws.popen(argv, db=db, label=f"{label}-a", **env_args)
    time.sleep(offset)
    second = ws.popen(argv, db=db, label=f"{label}-b", **env_args)
    runs = [first.wait(), second.wait()]
    for ran in list(runs):
        if ran.rc == TEMPFAIL:
            runs.append(ws.etl(argv, db=db, label=f"{label}-again", **env_args))
    return runs, (max(r.ended for r in runs) - second.started).total_seconds()


def _trial(ctx, variant: str, workload, number: int, rng) -> Trial:
    ws = ctx.ws
    clean = ctx.clean(workload)
    label = f"concurrent{number}"
    db, trial_dir = ws.database(label), ctx.trial_dir(label)
    workload.prepare(trial_dir)
    offset = round(rng.uniform(0, 0.4), 3)
    params: dict = {"variant": variant, "offset_s": offset}
    env_args = workload.env_args
    if variant == "retail day":
        day = workload.first + dt.timedelta(rng.randint(0, (workload.last - workload.first).days))
        params["day"] = str(day)
        if day > workload.first:
            ws.etl(workload.days_argv(last=day - dt.timedelta(1)), db=db, label=f"{label}-before")
        argv = workload.days_argv(day, day)
    elif variant == "gold month":
        ws.etl(workload.days_argv(), db=db, label=f"{label}-days")
        reset = (number // len(VARIANTS)) % 2 == 1  # every other time round
        params["reset"] = reset
        argv = ["retail", "gold", "--year", "2011", "--month", "2", *(["--reset"] if reset else [])]
    else:
        argv = workload.commands(trial_dir)[0]
    runs, seconds = _race(ctx, db, argv=argv, label=label, offset=offset, env_args=env_args)
    params["rcs"] = [r.rc for r in runs]
    problems = [f"rc {r.rc}: {r.tail()}" for r in runs if r.rc not in (0, TEMPFAIL)]
    if runs[-1].rc != 0 and len(runs) > 2:
        problems.append("the rerun of the busy one failed")
    completed = workload.run(ws, db, trial_dir, f"{label}-complete")  # the rest of the workload, as a later run
    if completed[-1].rc != 0:
        problems.append(f"completing the workload failed: {completed[-1].tail()}")
    with ws.connect(db) as conn:
        found = diff(clean, workload.snapshot(conn, trial_dir))
        months = conn.execute(MONTH_ROWS).fetchall()
        files = conn.execute(FILE_ROWS).fetchall()
    if months:
        problems.append(f"months with more than one ledger row: {months}")
    if files:
        problems.append(f"files loaded more than once: {files}")
    if not found.equal:
        problems.append(found.describe())
    duplicates = found.extra + sum(n - 1 for *_, n in months) + sum(n - 1 for *_, n in files)
    return Trial(variant, not problems, found.lost, duplicates, round(seconds, 3), params, "; ".join(problems))


CASES = {"concurrent": concurrent}
