"""SIGKILL of the task process at random failpoints across bronze load, gold upsert, sync pages and file load.

A trial picks an area (in turn, so each gets its share), a failpoint of it and the how-manieth
pass (seeded random among the passes a clean run makes), runs the workload with
``ETL_FAILPOINTS=point:n`` (the process kills itself with SIGKILL there: no cleanup, no
commit), then runs the whole workload again, as an Airflow retry would. Invariant: every table
equals the clean run's (row multisets; bronze by line within its day), and no ledger row is
left "in progress" or "running": the rerun closes what the dead process left open.
"""

from __future__ import annotations

from chaos.compare import diff, seconds_to_recover, stale_ledger_rows
from chaos.report import CaseResult, Trial
from chaos.workloads import Point, SyncWorkload, Workload
from chaos.workspace import KILLED
from reliable_etl_dev.fakes import FakeServer

AREAS = ("bronze load", "gold upsert", "sync pages", "file load")


def sigkill(ctx) -> CaseResult:
    case = CaseResult(
        "sigkill",
        "SIGKILL",
        "every table converges to the clean run's contents (no row lost, none twice), and no stage is left in"
        " progress, no run running in the ledger (the rerun closes the dead process's rows as process lost).",
        "from the kill to the first unit of work committed after it (the rerun's process start included).",
    )
    rng = ctx.rng("sigkill")
    with FakeServer() as fake:
        SyncWorkload.seed(fake)
        workloads = [ctx.retail_sample(), SyncWorkload(fake.url), ctx.files()]
        by_area = {area: [(w, p) for w in workloads for p in w.points if p.area == area] for area in AREAS}
        for number in range(ctx.sizes["sigkill"]):
            area = AREAS[number % len(AREAS)]
            workload, point = rng.choice(by_area[area])
            case.trials.append(_trial(ctx, workload, point, rng.randint(1, point.hits), number))
    return case


def _trial(ctx, workload: Workload, point: Point, nth: int, number: int) -> Trial:
    ws = ctx.ws
    clean = ctx.clean(workload)
    label = f"kill{number}"
    db, trial_dir = ws.database(label), ctx.trial_dir(label)
    workload.prepare(trial_dir)
    params = {"workload": workload.name, "failpoint": f"{point.name}:{nth}", "command": point.command}
    fault_at = None
    for index, argv in enumerate(workload.commands(trial_dir)):
        armed = {"ETL_FAILPOINTS": f"{point.name}:{nth}"} if index == point.command else {}
        ran = ws.etl(argv, db=db, label=f"{label}-{index}", extra=armed, **workload.env_args)
        if index == point.command:
            if ran.rc != KILLED:
                return Trial(
                    point.area, False, None, None, params=params, detail=f"not killed (rc {ran.rc}): {ran.tail()}"
                )
            fault_at = ran.ended
            break
        if ran.rc != 0:
            return Trial(
                point.area, False, None, None, params=params, detail=f"rc {ran.rc} before the kill: {ran.tail()}"
            )
    resumed = workload.run(ws, db, trial_dir, f"{label}-resume")
    with ws.connect(db) as conn:
        found = diff(clean, workload.snapshot(conn, trial_dir))
        stale = stale_ledger_rows(conn)
        recover = seconds_to_recover(conn, fault_at)
    problems = []
    if resumed[-1].rc != 0:
        problems.append(f"the rerun failed (rc {resumed[-1].rc}): {resumed[-1].tail()}")
    if not found.equal:
        problems.append(found.describe())
    if stale:
        problems.append(f"{stale} ledger row(s) of the killed run left in progress/running")
    return Trial(point.area, not problems, found.lost, found.extra, recover, params, "; ".join(problems))


CASES = {"sigkill": sigkill}
