"""The API fault matrix of the syncs, as one report: each fault of the fake Jira/GitHub, through `etl sync`.

Each row injects one fault (reliable_etl_dev.fakes, the real APIs' shapes) at a seeded request of a
fresh fake server, runs the sync the way it is run in production, takes the documented way
back (the same command; ``etl sync resume`` after a fault that needs a person, the fix first),
and compares the live rows with the fake's own data: rows lost (missing or stale), extra
rows (duplicates, or deleted records still live). Each row also checks the fault's documented
path: slept through, pended and resumed, page size halved, retried, failed for a person and
not retried blindly, the walk restarted, soft-deleted.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg

from chaos.report import CaseResult, Trial
from chaos.workspace import TEMPFAIL, Workspace
from reliable_etl_dev.fakes import FakeServer, Fault

REPO, REPO_PRS = "acme/api", 230  # pages of 50: 5
PROJECT, PROJECT_ISSUES = "ENG", 260  # 6


@dataclass(frozen=True)
class Row:
    fault: str  # the report's label
    service: str
    kind: str | None = None  # the fake's fault kind; None: a scenario of its own
    params: dict = field(default_factory=dict)
    times: int = 1
    at: tuple[int, int] = (2, 4)  # the faulted request, seeded within this range
    check: str = "retried"  # what else the row verifies: see _check
    ci: bool = False  # part of the CI subset


ROWS = [
    Row("GitHub RATE_LIMITED at HTTP 200, short: slept through", "github", "rate_limit", {"reset_after": 1}, ci=True),
    Row(
        "GitHub RATE_LIMITED at HTTP 200, long: pends, resumes",
        "github",
        "rate_limit",
        {"reset_after": 3},
        check="pended",
    ),
    Row("GitHub 403 secondary rate limit", "github", "secondary_rate_limit", {"reset_after": 3}, check="pended"),
    Row("Jira 429 + Retry-After, short", "jira", "rate_limit", {"reset_after": 1}),
    Row("Jira 429 + Retry-After, long", "jira", "rate_limit", {"reset_after": 3}, check="pended", ci=True),
    Row(
        "GitHub 502: page size halved", "github", "http_502", {"above": 20}, times=0, at=(1, 3), check="halved", ci=True
    ),
    Row("Jira 504: page size halved", "jira", "http_504", {"above": 30}, times=0, at=(1, 3), check="halved"),
    Row("GitHub timeout", "github", "timeout", {"delay": 2}, times=2),
    Row("Jira connection reset", "jira", "reset", times=2),
    Row("GitHub truncated JSON, transient", "github", "truncated_json", times=2),
    Row("Jira invalid JSON, transient", "jira", "invalid_json", times=2, ci=True),
    Row("GitHub unreadable JSON for good: a person resumes", "github", "truncated_json", times=0, check="attention"),
    Row("GitHub rejected cursor: walk restarted", "github", "invalid_cursor", at=(2, 5), check="cursor"),
    Row("Jira 410 Gone (Cloud site set up as Server)", "jira", check="gone"),
    Row("Jira issues deleted between passes", "jira", check="deleted"),
    Row("Jira issues deleted at the keyset boundary, in a rate-limit wait", "jira", check="boundary", ci=True),
    Row("GitHub pull requests deleted between passes", "github", check="deleted"),
]


def api_faults(ctx) -> CaseResult:
    case = CaseResult(
        "api_faults",
        "Sync API faults",
        "after the documented way back, the live rows equal the fake API's records (none lost or stale,"
        " none extra), the job is FINISHED, and the fault took its documented path.",
        "from the first faulted answer (or the deletion) to the job's FINISHED transition.",
    )
    rng = ctx.rng("api_faults")
    rows = [r for r in ROWS if r.ci] if ctx.ci else ROWS
    number = 0
    for row in rows:
        for _ in range(ctx.sizes["api_faults"]):
            case.trials.append(_trial(ctx, row, number, rng))
            number += 1
    return case


def _argv(service: str, *extra: str) -> list[str]:
    option, entity = ("--repos", REPO) if service == "github" else ("--projects", PROJECT)
    return ["sync", service, option, entity, "--concurrency", "1", *extra]


def _job(conn: psycopg.Connection, service: str) -> dict:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("select * from ops.sync_jobs where service = %s", (service,)).fetchone() or {}


def _github_truth(fake) -> Counter:
    return Counter(
        (
            pr["id"],
            pr["title"],
            pr["state"],
            int(dt.datetime.fromisoformat(pr["updatedAt"].replace("Z", "+00:00")).timestamp()),
        )
        for pr in fake.github.pull_requests(REPO)
    )


def _jira_truth(fake) -> Counter:
    def ms(text: str) -> int:
        return round(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)

    return Counter(
        (int(i["id"]), i["key"], ms(i["fields"]["updated"]), i["fields"]["summary"]) for i in fake.jira.issues(PROJECT)
    )


def _live(conn: psycopg.Connection, service: str) -> Counter:
    if service == "github":
        rows = conn.execute(
            "select id, title, state, updated_at from sync.github_pull_requests where deleted_at is null"
        ).fetchall()
        return Counter((i, t, s, int(u.timestamp())) for i, t, s, u in rows)
    rows = conn.execute("select id, key, updated_at, summary from sync.jira_issues where deleted_at is null").fetchall()
    return Counter((i, k, round(u.timestamp() * 1000), s) for i, k, u, s in rows)


def _first_fault(fake, since_mono: float, offset: float) -> dt.datetime | None:
    """When the fake first answered with the fault (or an error status), on the wall clock."""
    for record in fake.requests:
        if record.at >= since_mono and (record.fault or (record.status or 200) >= 400):
            return dt.datetime.fromtimestamp(record.at + offset, dt.UTC)
    return None


@dataclass
class Run:
    """One trial under way: the fake, the database, and what went wrong so far."""

    ws: Workspace
    db: str
    label: str
    row: Row
    at: int
    fake: FakeServer
    rng: object
    problems: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def sync(self, name: str, *extra: str, jira_mode: str = "cloud", env: dict | None = None):
        return self.ws.etl(
            _argv(self.row.service, *extra),
            db=self.db,
            label=f"{self.label}-{name}",
            fake_url=self.fake.url,
            jira_mode=jira_mode,
            extra=env,
        )

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def job(self) -> dict:
        with self.ws.connect(self.db) as conn:
            return _job(conn, self.row.service)


def _trial(ctx, row: Row, number: int, rng) -> Trial:
    ws: Workspace = ctx.ws
    label = f"api{number}"
    at = rng.randint(*row.at)
    offset = time.time() - time.monotonic()
    with FakeServer() as fake:
        if row.service == "github":
            fake.github.add_repo(REPO, count=REPO_PRS, seed=7)
        else:
            fake.jira.add_project(PROJECT, count=PROJECT_ISSUES, seed=3)
        run = Run(ws, ws.database(label), label, row, at, fake, rng)
        run.params = {"service": row.service, "kind": row.kind or row.check, "at_request": at}
        started = time.monotonic()
        fault_at = (_special if row.kind is None else _scenario)(run) or _first_fault(fake, started, offset)
        with ws.connect(run.db) as conn:
            job = _job(conn, row.service)
            truth = _github_truth(fake) if row.service == "github" else _jira_truth(fake)
            live = _live(conn, row.service)
            finished = conn.execute(FINISHED).fetchone()[0]
    lost, extra = sum((truth - live).values()), sum((live - truth).values())
    run.expect(job.get("status") == "FINISHED", f"job {job.get('status')}: {job.get('last_error')}")
    run.expect(not (lost or extra), f"{lost} records lost or stale, {extra} extra")
    recover = round((finished - fault_at).total_seconds(), 3) if finished and fault_at and finished > fault_at else None
    return Trial(row.fault, not run.problems, lost, extra, recover, run.params, "; ".join(run.problems))


FINISHED = "select max(at) from ops.sync_transitions where to_status = 'FINISHED'"


def _scenario(run: Run) -> None:
    """Inject the fault, run, and take the documented way back."""
    row, fake = run.row, run.fake
    fake.faults.add(Fault(service=row.service, kind=row.kind, at_request=run.at, times=row.times, params=row.params))
    first = run.sync("run")
    if row.check == "attention":
        run.expect(first.rc not in (0, TEMPFAIL), f"a page unreadable for good ended rc {first.rc}")
        with run.ws.connect(run.db) as conn:
            kept = conn.execute("select count(*) from sync.github_pull_requests").fetchone()[0]
        good = 50 * (run.at - 1)
        run.expect(run.job().get("needs_attention") is True, "the job does not need attention")
        run.expect(kept == good, f"{kept} rows kept, expected the good pages' {good}")
        sent = len(fake.requests)
        again = run.sync("scheduled-again")
        run.expect(again.rc != 0 and len(fake.requests) == sent, "the next run retried it blindly")
        fake.faults.clear()  # the person fixes the cause, then resumes
        resumed = run.ws.etl(["sync", "resume", row.service, REPO], db=run.db, label=f"{run.label}-resume")
        run.expect(resumed.rc == 0, f"etl sync resume: rc {resumed.rc}")
        first = run.sync("after-resume")
    run.expect(first.rc == 0, f"rc {first.rc}: {first.tail()}")
    job = run.job()
    with run.ws.connect(run.db) as conn:
        path = [tuple(r) for r in conn.execute("select from_status, to_status from ops.sync_transitions order by id")]
    fired = sum(1 for r in fake.requests if r.fault == row.kind)
    run.params["faults_fired"] = fired
    run.expect(fired >= 1, "the fault never fired")
    if row.check == "pended":
        run.expect(("RUNNING", "PENDING") in path, f"the job did not pend: {path}")
    if row.check == "halved":
        run.params["page_size"] = job.get("page_size")
        run.expect((job.get("page_size") or 50) < 50, "the page size was not halved")
    if row.check == "cursor":
        run.expect((job.get("warnings") or 0) >= 1, "the rejected cursor left no warning")


def _special(run: Run) -> dt.datetime | None:
    """The scenarios that are not one injected fault; returns the moment of the deletion."""
    if run.row.check == "gone":
        first = run.sync("run", jira_mode="server")  # the Connection says Server, the site is Cloud: /search is 410
        run.expect(first.rc not in (0, TEMPFAIL), f"the 410 ended rc {first.rc}")
        run.expect('Set extra {"deployment": "cloud"}' in first.text, "the error does not say what to change")
        run.expect(run.job().get("needs_attention") is True, "the job does not need attention")
        run.ws.etl(["sync", "resume", "jira", PROJECT], db=run.db, label=f"{run.label}-resume")
        run.expect(run.sync("fixed").rc == 0, "the run after the fix failed")
        return None
    if run.row.check == "boundary":
        return _deleted_in_a_wait(run)
    return _deleted_between_passes(run)


def _deleted_in_a_wait(run: Run) -> dt.datetime:
    """Rate limited mid-walk (--no-wait: exit 75); the issues of the keyset boundary are deleted meanwhile."""
    run.fake.faults.add(Fault(service="jira", kind="rate_limit", at_request=run.at, params={"reset_after": 3}))
    first = run.sync("run", "--no-wait")
    run.expect(first.rc == TEMPFAIL, f"rate limited with --no-wait ended rc {first.rc}, not 75")
    job = run.job()
    gone = [i["key"] for i in run.fake.jira.issues(PROJECT) if i["id"] in (job.get("keyset_ids") or [])]
    run.params["deleted"] = gone
    run.expect(bool(gone), "no issue at the keyset boundary")
    run.fake.jira.delete(PROJECT, gone)
    deleted_at = dt.datetime.now(dt.UTC)
    if job.get("next_retry_at"):
        time.sleep(max(0.0, (job["next_retry_at"] - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    run.expect(run.sync("after-wait").rc == 0, "the run after the wait failed")
    _check_deleted(run, gone)
    return deleted_at


def _deleted_between_passes(run: Run) -> dt.datetime:
    """A full pass, then records deleted and others updated, then the next pass (with its sweep)."""
    run.expect(run.sync("first-pass").rc == 0, "the first pass failed")
    rng, fake = run.rng, run.fake
    if run.row.service == "jira":
        keys = [i["key"] for i in fake.jira.issues(PROJECT)]
        gone = rng.sample(keys, 3)
        fake.jira.touch(PROJECT, rng.sample([k for k in keys if k not in gone], 2))
        fake.jira.delete(PROJECT, gone)
    else:
        numbers = [pr["number"] for pr in fake.github.pull_requests(REPO)]
        gone = rng.sample(numbers, 2)
        fake.github.touch(REPO, rng.sample([n for n in numbers if n not in gone], 3))
        fake.github.delete(REPO, gone)
    run.params["deleted"] = gone
    deleted_at = dt.datetime.now(dt.UTC)
    run.expect(run.sync("next-pass", env={"ETL_SYNC_SWEEP_HOURS": "0"}).rc == 0, "the next pass failed")
    _check_deleted(run, gone)
    return deleted_at


def _check_deleted(run: Run, gone: list) -> None:
    query = (
        "select key from sync.jira_issues where deleted_at is not null"
        if run.row.service == "jira"
        else "select number from sync.github_pull_requests where deleted_at is not null"
    )
    with run.ws.connect(run.db) as conn:
        soft_deleted = sorted(r[0] for r in conn.execute(query))
    run.expect(soft_deleted == sorted(gone), f"soft-deleted {soft_deleted}, deleted {sorted(gone)}")


CASES = {"api_faults": api_faults}
