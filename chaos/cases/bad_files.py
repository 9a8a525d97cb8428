"""The bad-file corpus of the file pipeline, as one report: each bad delivery through `etl files load`.

A trial loads a good night of customers.txt, delivers one file of the corpus, runs the load
(notifications on), then delivers the corrected file and loads again, as the people on call
would. Invariant: a file that cannot be loaded fails (or is refused) naming the file and the
line or the reason, and leaves the previous table exactly as it was (and the file in the drop
directory, to fix); a file with a few bad records loads its good ones and keeps each reject
with its line; the corrected delivery then loads exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from chaos.report import CaseResult, Trial
from chaos.workloads import customer, customers_file
from chaos.workspace import Workspace, now

NIGHT1 = [customer(n, name) for n, name in enumerate(["Zoë", "Ana", "Björn", "Chloé", "Dan", "Eve"], start=1)]
GOOD = [customer(n, f"C{n}") for n in range(10, 110)]  # 100 good records
ROWS = "select customer_id, name, birth_date, credit, source_line from files.customers"


def _header(body: bytes) -> bytes:
    return b"HEADER customers export\n" + body


def _lines(lines: list[str], *, tail: str = "") -> bytes:
    return _header("".join(line + "\n" for line in lines).encode("cp1252") + tail.encode("cp1252"))


@dataclass(frozen=True)
class BadFile:
    name: str
    content: Callable[[], bytes]
    status: str  # what ops.file_loads says: failed | refused | loaded
    message: str  # a regex the error (failed, refused) or the rejects (loaded) must match
    loads: int = 0  # records loaded, when the file loads
    rejects: int = 0
    ci: bool = False


def _mixed(bad: dict[int, str]) -> list[str]:
    return [bad.get(n, line) for n, line in enumerate(GOOD)]


CORPUS = [
    BadFile("empty file", lambda: b"", "failed", r"customers.txt: the file is empty"),
    BadFile("header only", lambda: b"HEADER only\n", "failed", r"customers.txt: no data lines after 1 header line"),
    BadFile(
        "bytes invalid in the declared encoding (cp1252)",
        lambda: _header((NIGHT1[0] + "\n").encode() + b"\x81" + NIGHT1[1].encode()[1:] + b"\n"),
        "failed",
        r"customers.txt: line 3: .*0x81",
        ci=True,
    ),
    BadFile(
        "records of another length: wrong layout",
        lambda: _lines([line + "    " for line in GOOD[:20]]),
        "failed",
        r"records are 44 characters, the layout says 40: wrong layout",
    ),
    BadFile(
        "short, long and truncated lines",
        lambda: _lines(_mixed({10: GOOD[10][:30], 11: GOOD[11] + "XX"}), tail=customer(999, "Last")[:25]),
        "loaded",
        r"30 characters, the layout needs 40|42 characters|truncated last line",
        loads=98,
        rejects=3,
        ci=True,
    ),
    BadFile(
        "values not of their type (date, decimal)",
        lambda: _lines(_mixed({5: customer(15, "X", birth="13/01/2008"), 6: customer(16, "Y", credit="ab12")})),
        "loaded",
        r"is not a date|not a (decimal|number)",
        loads=98,
        rejects=2,
    ),
    BadFile(
        "a required value missing",
        lambda: _lines(_mixed({7: GOOD[7][:6] + " " * 16 + GOOD[7][22:]})),
        "loaded",
        r"name: required, but empty",
        loads=99,
        rejects=1,
    ),
    BadFile(
        "duplicate primary key",
        lambda: _lines([*NIGHT1, customer(3, "Twin")]),
        "failed",
        r"duplicate primary key \(customer_id\) of customers: \(3\) on lines 4, 8",
    ),
    BadFile(
        "above the reject threshold",
        lambda: _lines([customer(n, f"S{n}") if n % 10 else customer(n, "") for n in range(10, 30)]),
        "refused",
        r"2 of 20 records rejected \(10.0% > 5.0% allowed\)",
    ),
]


def bad_files(ctx) -> CaseResult:
    case = CaseResult(
        "bad_files",
        "Bad-file corpus",
        "a file that cannot be loaded fails or is refused naming file and line (or reason), the previous table"
        " unchanged and the file left to fix; a few bad records are rejects with their line, the rest loads;"
        " the corrected delivery loads exactly.",
        "from the bad delivery's load to the corrected delivery committed (the people on call: immediate here).",
    )
    corpus = [f for f in CORPUS if f.ci] if ctx.ci else CORPUS
    for number, bad in enumerate(corpus):
        for repeat in range(ctx.sizes["bad_files"]):
            case.trials.append(_trial(ctx, bad, f"badfile{number}_{repeat}"))
    return case


def _load(ctx, db: str, trial_dir, label: str):
    ws: Workspace = ctx.ws
    ran = ws.etl(ctx.files().load_argv(trial_dir), db=db, label=label)
    with ws.connect(db) as conn:
        row = conn.execute(
            "select status, error from ops.file_loads where file_name = 'customers.txt' order by id desc limit 1"
        ).fetchone()
        rows = Counter(str(r) for r in conn.execute(ROWS))
    return ran, row, rows


def _trial(ctx, bad: BadFile, label: str) -> Trial:
    ws: Workspace = ctx.ws
    db, trial_dir = ws.database(label), ctx.trial_dir(label)
    drop = trial_dir / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    customers_file(drop / "customers.txt", NIGHT1)
    _, first, before = _load(ctx, db, trial_dir, f"{label}-night1")
    _expect(problems, first == ("loaded", None), f"the good night did not load: {first}")
    (drop / "customers.txt").write_bytes(bad.content())
    ran, (status, error), after = _load(ctx, db, trial_dir, f"{label}-bad")
    delivered = now()
    params = {"status": status, "error": (error or "")[:200]}
    _expect(problems, status == bad.status, f"status {status}, expected {bad.status}: {error}")
    lost = extra = 0
    if bad.status == "loaded":
        with ws.connect(db) as conn:
            reasons = [
                r[0] for r in conn.execute("select reason from ops.rejected_rows where source = 'customers.txt'")
            ]
        params["rejects"] = len(reasons)
        _expect(problems, len(reasons) == bad.rejects, f"{len(reasons)} rejects, expected {bad.rejects}")
        _expect(problems, all(re.search(bad.message, r) for r in reasons), f"reject reasons {reasons}")
        lost, extra = max(0, bad.loads - sum(after.values())), max(0, sum(after.values()) - bad.loads)
    else:
        said = f"{error}\n{ran.text}"  # the ledger's error, and what the run printed
        _expect(problems, re.search(bad.message, said) is not None, f"the error does not say {bad.message!r}: {error}")
        lost, extra = sum((before - after).values()), sum((after - before).values())
        _expect(problems, not (lost or extra), "the previous table changed")
        _expect(
            problems, (drop / "customers.txt").exists() or bad.status == "refused", "the bad file was not left to fix"
        )
    _expect(problems, ran.rc in (0, 1), f"rc {ran.rc}")
    # the corrected delivery
    corrected = [*NIGHT1, customer(7, "Fañch")]
    customers_file(drop / "customers.txt", corrected)
    _, fixed, final = _load(ctx, db, trial_dir, f"{label}-corrected")
    _expect(problems, fixed == ("loaded", None), f"the corrected file did not load: {fixed}")
    _expect(problems, sum(final.values()) == len(corrected), f"{sum(final.values())} rows after the corrected load")
    with ws.connect(db) as conn:
        committed = conn.execute(
            "select max(at) from ops.file_loads where status = 'loaded' and at > %s", (delivered,)
        ).fetchone()[0]
    recover = round((committed - delivered).total_seconds(), 3) if committed else None
    return Trial(bad.name, not problems, lost, extra, recover, params, "; ".join(problems))


def _expect(problems: list[str], ok: bool, message: str) -> None:
    if not ok:
        problems.append(message)


CASES = {"bad_files": bad_files}
