"""The warehouse fails under a running pipeline: crashed, a connection terminated, a table locked.

- pg_crash: a private PostgreSQL (reliable_etl_dev.scratch.PrivateServer) is stopped with ``pg_ctl stop -m
  immediate`` after a seeded number of committed days, and stays down until the run gives up
  (exit 75). Then: every day the run reported committed is there, exactly; every other day is
  absent or complete, never partial; the rerun converges to the clean run and closes the run the
  crash left open (no ledger row left running or in progress).
- terminate: ``pg_terminate_backend`` on the connection of the day being written, at a seeded
  day: the run retries that day (a bounded number of times) and finishes by itself, exact.
- lock: an ACCESS EXCLUSIVE lock on a target table, held past the lock timeout. Held less than
  the retry budget: bounded retries, then success in the same run. Held longer: the run stops
  after exactly the configured attempts (exit 75) with nothing partial, and the rerun succeeds.
"""

from __future__ import annotations

import re
import threading
import time

import psycopg

from chaos.compare import diff, seconds_to_recover, stale_ledger_rows
from chaos.report import CaseResult, Trial
from chaos.workspace import TEMPFAIL, now
from reliable_etl_dev import scratch

RETRIES = "select count(*) from ops.pipeline_logs where metadata ? 'retry'"
COMMITTED_LINE = re.compile(r"^\[(\d+)/\d+\] (\d{4}-\d{2}-\d{2}):", re.MULTILINE)


def _committed_days(text: str) -> list[str]:
    """The days the CLI printed as committed (it prints a day after its commit)."""
    return [day for _, day in COMMITTED_LINE.findall(text)]


def _day_state(clean_days: dict, got: dict, day: str) -> str:
    """complete (as in the clean run) | absent | partial."""
    want, have = clean_days.get(day, {}), got.get(day, {})
    if not have:
        return "absent"
    return "complete" if have == want else "partial"


def pg_crash(ctx) -> CaseResult:
    case = CaseResult(
        "pg_crash",
        "PostgreSQL crash (pg_ctl stop -m immediate)",
        "every day reported committed survives the crash exactly; the day in flight and every later one are"
        " absent (or complete), never partial; the rerun converges to the clean run, no ledger row left open.",
        "from the crash to the first unit committed after it: the outage until the run gave up (exit 75),"
        " the restart, and the rerun's start.",
    )
    rng, workload, ws = ctx.rng("pg_crash"), ctx.retail_long(), ctx.ws
    clean = ctx.clean(workload)
    with ws.connect(ctx.clean_databases[workload.name]) as conn:
        clean_days = workload.day_rows(conn)
    days = (workload.last - workload.first).days + 1
    with scratch.PrivateServer(ws.root / "private-pg") as server:
        for number in range(ctx.sizes["pg_crash"]):
            label = f"crash{number}"
            db = scratch.create_database(server.uri, label)
            after = rng.randint(2, days - 10)  # committed days before the crash
            delay = round(rng.uniform(0, 0.06), 3)  # into the next day
            params = {"crash_after_days": after, "delay_s": delay}
            # give up quickly while the server is down, so the outage can be inspected with the run gone
            env = {"ETL_RETRY_MAX_SECONDS": "2", "ETL_RETRY_ATTEMPTS": "4"}
            running = ws.popen(workload.days_argv(), db=db, label=label, admin_uri=server.uri, extra=env)
            if not running.wait_for(f"[{after}/{days}]", timeout=180):
                running.wait()
                case.trials.append(Trial("mid-run", False, None, None, params=params, detail="the run ended early"))
                continue
            time.sleep(delay)
            crashed_at = now()
            server.stop("immediate")
            gave_up = running.wait(timeout=180)
            server.start()
            trial = _after_crash(
                ws,
                workload,
                clean,
                clean_days,
                db=db,
                server_uri=server.uri,
                gave_up=gave_up,
                crashed_at=crashed_at,
                params=params,
            )
            ws.extra_scans.append((f"private server database {label}", _scan(ctx, server.uri, db)))
            case.trials.append(trial)
    return case


def _after_crash(ws, workload, clean, clean_days, *, db, server_uri, gave_up, crashed_at, params) -> Trial:
    problems = []
    if gave_up.rc != TEMPFAIL:
        problems.append(f"the run ended with rc {gave_up.rc}, not 75: {gave_up.tail()}")
    reported = _committed_days(gave_up.text)
    with ws.connect(db, server_uri) as conn:
        got = workload.day_rows(conn)
    lost = sum(
        sum(clean_days[d].values()) - sum(got.get(d, {}).values()) for d in reported if got.get(d) != clean_days[d]
    )
    states = {day: _day_state(clean_days, got, day) for day in clean_days if day not in reported}
    partial = sorted(day for day, state in states.items() if state == "partial")
    in_flight = min(states) if states else None
    params |= {"reported_committed": len(reported), "in_flight": in_flight, "in_flight_state": states.get(in_flight)}
    if lost:
        problems.append(f"{lost} rows of days reported committed are missing after the crash")
    if partial:
        problems.append(f"partial days after the crash: {partial}")
    rerun = [ws.etl(argv, db=db, label=f"{db}-rerun", admin_uri=server_uri) for argv in workload.commands(ws.root)]
    if any(r.rc != 0 for r in rerun):
        problems.append(f"the rerun failed: {rerun[-1].tail()}")
    with ws.connect(db, server_uri) as conn:
        found = diff(clean, workload.snapshot(conn))
        recover = seconds_to_recover(conn, crashed_at)
        stale = stale_ledger_rows(conn)
    if not found.equal:
        problems.append(found.describe())
    if stale:
        problems.append(f"{stale} ledger row(s) of the crashed run left in progress/running")
    return Trial("mid-run", not problems, lost + found.lost, found.extra, recover, params, "; ".join(problems))


def _scan(ctx, server_uri: str, db: str) -> int:
    from chaos.cases.secrets import scan_database

    with psycopg.connect(ctx.ws.libpq(db, server_uri), autocommit=True) as conn:
        findings = scan_database(conn, f"private:{db}")
    ctx.ws.findings.extend(findings)
    return len(findings)


def terminate(ctx) -> CaseResult:
    case = CaseResult(
        "terminate",
        "pg_terminate_backend",
        "the run that lost its connection retries the day (bounded: at most ETL_RETRY_ATTEMPTS - 1 retries,"
        " each in ops.pipeline_logs) and finishes by itself; the tables equal the clean run's.",
        "from the termination to the first unit committed after it (the retry's backoff included).",
    )
    rng, workload, ws = ctx.rng("terminate"), ctx.retail_long(), ctx.ws
    clean = ctx.clean(workload)
    days = (workload.last - workload.first).days + 1
    attempts = 6  # ETL_RETRY_ATTEMPTS' default
    for number in range(ctx.sizes["terminate"]):
        label = f"terminate{number}"
        db = ws.database(label)
        after = rng.randint(2, days - 10)
        params = {"after_days": after}
        running = ws.popen(workload.days_argv(), db=db, label=label)
        killed = None
        if running.wait_for(f"[{after}/{days}]", timeout=180):
            killed = _terminate_day_backend(ws, db, running)
        ran = running.wait()
        params["terminated"] = killed[0] if killed else None
        gold = ws.etl(["retail", "gold"], db=db, label=f"{label}-gold")
        with ws.connect(db) as conn:
            found = diff(clean, workload.snapshot(conn))
            retries = conn.execute(RETRIES).fetchone()[0]
            recover = seconds_to_recover(conn, killed[1]) if killed else None
        params["retries"] = retries
        problems = []
        if killed is None:
            problems.append("no connection of a day in flight was found to terminate")
        if ran.rc != 0 or gold.rc != 0:
            problems.append(f"rc {ran.rc}/{gold.rc}: {ran.tail()}")
        if not 1 <= retries <= attempts - 1:
            problems.append(f"{retries} retries logged, expected 1..{attempts - 1}")
        if not found.equal:
            problems.append(found.describe())
        case.trials.append(
            Trial(
                "connection of a day in flight",
                not problems,
                found.lost,
                found.extra,
                recover,
                params,
                "; ".join(problems),
            )
        )
    return case


def _terminate_day_backend(ws, db: str, running) -> tuple[str, object] | None:
    """Terminate the first connection seen writing a day (application_name 'etl retail YYYY-MM-DD')."""
    with ws.connect(db) as conn:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and running.proc.poll() is None:
            row = conn.execute(
                "select pid, application_name from pg_stat_activity where datname = current_database()"
                " and application_name ~ '^etl retail \\d{4}-\\d{2}-\\d{2}$' and xact_start is not null limit 1"
            ).fetchone()
            if row and conn.execute("select pg_terminate_backend(%s)", (row[0],)).fetchone()[0]:
                return row[1], now()
            time.sleep(0.002)
    return None


LOCKED_TABLES = ("silver.fact_sales_daily", "bronze.retail_files", "gold.fact_sales_monthly")
BLOCKED = (
    "select count(*) from pg_stat_activity where datname = current_database()"
    " and wait_event_type = 'Lock' and application_name like 'etl %'"
)


def _hold(ws, db: str, holder: psycopg.Connection, held: float, released: dict) -> None:
    """Keep the lock until ``held`` seconds after a task process first waits for it, then release it."""
    with ws.connect(db) as conn:
        deadline = time.monotonic() + 120
        while not conn.execute(BLOCKED).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.01)
    released["blocked_at"] = now()
    time.sleep(held)
    holder.rollback()
    holder.close()
    released["at"] = now()


def lock(ctx) -> CaseResult:
    case = CaseResult(
        "lock",
        "Lock held past the lock timeout",
        "lock_timeout 300 ms, 4 attempts: within the retry budget the run succeeds by itself after at most 3"
        " retries; beyond it, the run stops after exactly 3 retries (exit 75) with nothing of the day"
        " committed, and the rerun succeeds. Either way the tables end equal to the clean run's.",
        "from the lock's release to the first unit committed after it (beyond the budget: the rerun's start included).",
    )
    rng, workload, ws = ctx.rng("lock"), ctx.retail_sample(), ctx.ws
    clean = ctx.clean(workload)
    env = {
        "ETL_LOCK_TIMEOUT_MS": "300",
        "ETL_RETRY_ATTEMPTS": "4",
        "ETL_RETRY_WAIT_MIN": "0.4",
        "ETL_RETRY_WAIT_MAX": "4",
    }
    # attempts spaced by equal-jitter waits of 0.2+, 0.4+, 0.8+ s (up to twice that) plus 0.3 s each for the lock
    for number in range(ctx.sizes["lock"]):
        beyond = number % 2 == 1
        table = rng.choice(LOCKED_TABLES)
        held = round(rng.uniform(6.5, 8.0) if beyond else rng.uniform(0.5, 1.2), 2)  # after the first wait
        label = f"lock{number}"
        db = ws.database(label)
        params = {"table": table, "held_s": held}
        holder = psycopg.connect(ws.libpq(db), application_name="chaos lock holder")
        holder.execute(f"lock table {table} in access exclusive mode")
        released: dict = {}
        timer = threading.Thread(target=_hold, args=(ws, db, holder, held, released))
        timer.start()
        runs = workload.run(ws, db, ws.root, label, extra=env)
        first_rc = runs[-1].rc
        timer.join()
        problems = []
        with ws.connect(db) as conn:
            retries = conn.execute(RETRIES).fetchone()[0]
            in_flight = conn.execute(
                "select count(*) from ops.pipeline_checkpoint where status = 'in_progress'"
            ).fetchone()[0]
        params |= {"first_rc": first_rc, "retries": retries}
        if beyond:
            if first_rc != TEMPFAIL:
                problems.append(f"held beyond the budget, the run ended rc {first_rc}, not 75: {runs[-1].tail()}")
            if retries != 3:
                problems.append(f"{retries} retries logged before giving up, expected exactly 3")
            if in_flight:
                problems.append(f"{in_flight} stages left in progress")
            runs = workload.run(ws, db, ws.root, f"{label}-rerun", extra=env)
        elif not 1 <= retries <= 3:
            problems.append(f"{retries} retries logged, expected 1..3")
        if runs[-1].rc != 0:
            problems.append(f"rc {runs[-1].rc}: {runs[-1].tail()}")
        with ws.connect(db) as conn:
            found = diff(clean, workload.snapshot(conn))
            recover = seconds_to_recover(conn, released["at"])
        if not found.equal:
            problems.append(found.describe())
        fault = "held beyond the retry budget, then rerun" if beyond else "held within the retry budget"
        case.trials.append(Trial(fault, not problems, found.lost, found.extra, recover, params, "; ".join(problems)))
    return case


CASES = {"pg_crash": pg_crash, "terminate": terminate, "lock": lock}
