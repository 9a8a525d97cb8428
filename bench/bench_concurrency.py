"""Overlapping catch-ups plus gold on one warehouse, against one catch-up alone, same run.

    python bench/bench_concurrency.py [--days 147] [--gold 3]

The scenario of issue 8: two `etl retail run`s over the same days (the second starts a second
after the first, so most of its days are no-ops: same bytes in bronze) and `etl retail gold`
three times while they write. Before the schema bootstrap read a ledger, this took 88 s where
one run took 11 s, and two gold commands failed on the lock timeout. Target: the overlapping
set finishes within 2x of one run alone, every command succeeds, no deadlock is counted.

Days come from the real data set (first `--days` calendar days from 2010-12-01), or from
reliable_etl_dev.sample when it is missing. Each measurement gets a fresh database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from _common import REAL_RETAIL, machine_info, print_table, python_exe, verdict, write_results

from reliable_etl_dev import scratch

FIRST = dt.date(2010, 12, 1)


def etl(*argv: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [python_exe(), "-m", "reliable_etl.cli", *argv],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def landing_files(tmp: Path, days: int) -> tuple[Path, str]:
    from reliable_etl.retail.landing import split_export
    from reliable_etl_dev.sample import write_sample

    if REAL_RETAIL.exists():
        split_export(REAL_RETAIL, tmp / "landing")
        return tmp / "landing", f"real data set, {days} days from {FIRST}"
    export = tmp / "generated.csv"
    write_sample(export, FIRST, days)
    split_export(export, tmp / "landing")
    return (
        tmp / "landing",
        f"GENERATED sample (reliable_etl_dev.sample), {days} days: not comparable with the real set",
    )


def deadlocks(uri: str) -> int:
    with psycopg.connect(uri, autocommit=True) as conn:
        return conn.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()[0]


def measure(admin: str, landing: Path, days: int, *, overlapping: bool, gold: int) -> dict:
    with scratch.database(admin, prefix="etl_bench_conc") as name:
        env = {"AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(admin, name)}
        init = etl("init", env=env)
        assert init.wait() == 0, init.stderr.read() if init.stderr else ""
        last = FIRST + dt.timedelta(days=days - 1)
        span = ["retail", "run", "--from", str(FIRST), "--to", str(last), "--landing", str(landing)]
        before = deadlocks(scratch.libpq_uri(admin, name))
        started = time.monotonic()
        procs = [etl(*span, env=env)]
        if overlapping:
            time.sleep(1.0)
            procs.append(etl(*span, env=env))
            for n in range(gold):
                time.sleep(2.0 if n else 0.5)
                procs.append(etl("retail", "gold", env=env))
        codes = [p.wait() for p in procs]
        elapsed = time.monotonic() - started
        failures = [p.stderr.read().strip().splitlines()[-1:] for p, c in zip(procs, codes, strict=True) if c]
        return {
            "seconds": round(elapsed, 2),
            "commands": len(procs),
            "failed": failures,
            "deadlocks": deadlocks(scratch.libpq_uri(admin, name)) - before,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=147)
    parser.add_argument("--gold", type=int, default=3, help="`etl retail gold` commands during the runs")
    args = parser.parse_args(argv)

    with scratch.server() as (admin, source), tempfile.TemporaryDirectory(prefix="etl_bench_conc_") as tmp:
        landing, note = landing_files(Path(tmp), args.days)
        print(f"{note}; server: {source}")
        alone = measure(admin, landing, args.days, overlapping=False, gold=0)
        together = measure(admin, landing, args.days, overlapping=True, gold=args.gold)
        ratio = together["seconds"] / alone["seconds"]
        ok = ratio <= 2.0 and not together["failed"] and together["deadlocks"] == 0
        print_table(
            ["case", "seconds", "commands", "failed", "deadlocks"],
            [
                ["one catch-up alone", alone["seconds"], alone["commands"], len(alone["failed"]), alone["deadlocks"]],
                [
                    f"two overlapping + {args.gold} gold",
                    together["seconds"],
                    together["commands"],
                    len(together["failed"]),
                    together["deadlocks"],
                ],
            ],
        )
        print(f"overlapping / alone = {ratio:.2f}x (target <= 2x, all succeed, 0 deadlocks): {verdict(ok)}")
        for failure in together["failed"]:
            print(f"  failed: {failure}")
        write_results(
            "concurrency",
            {"machine": machine_info(), "data": note, "days": args.days, "alone": alone, "overlapping": together,
             "ratio": ratio, "ok": ok},
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
