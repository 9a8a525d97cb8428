"""``python -m chaos``: run the fault-injection suite and write its report (see chaos/__init__.py)."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from chaos import report
from chaos.suite import CASES, run_suite
from reliable_etl_dev import ROOT as PROJECT_ROOT
from reliable_etl_dev import scratch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--ci", action="store_true", help="the CI subset's trial counts (make test runs it)")
    parser.add_argument("--seed", type=int, default=20111, help="seeds every random choice (default 20111)")
    parser.add_argument("--only", help=f"comma-separated cases, of: {','.join(CASES)}")
    parser.add_argument("--out", default=str(PROJECT_ROOT / ".etl" / "chaos"), help="report.json, report.md, logs")
    parser.add_argument("--doc", help="also write the markdown table into this file's generated block")
    parser.add_argument("--trials", help="override trial counts: CASE=N,...")
    parser.add_argument("--keep", action="store_true", help="keep the suite's databases (to look at them)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the local Airflow's REST calls
    only = [name.strip() for name in args.only.split(",")] if args.only else None
    trials = (
        {k.strip(): int(v) for k, _, v in (i.partition("=") for i in args.trials.split(","))} if args.trials else None
    )
    out = Path(args.out)
    command = "python -m chaos " + shlex.join(argv if argv is not None else sys.argv[1:])
    with scratch.server() as (admin_uri, _source):
        cases, _meta = run_suite(
            out,
            admin_uri,
            seed=args.seed,
            ci=args.ci,
            only=only,
            command=command.strip(),
            keep=args.keep,
            trials=trials,
        )
    text = (out / "report.md").read_text(encoding="utf-8")
    sys.stdout.write(text)
    if args.doc:
        report.update_doc(Path(args.doc), text)
    return 0 if all(case.survived or case.skipped for case in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
