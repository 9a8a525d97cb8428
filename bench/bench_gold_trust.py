"""What trusting gold costs (issue 17), as ratios against baselines measured in the same run.

    python bench/bench_gold_trust.py [--source PATH] [--repeat 5]

The full retail history is loaded day by day (split_export + load_day), then:

1. Write-audit-publish: every month of the year published with ``reset`` by the shipped spec
   (four checks in the unit's transaction) and by the same spec without checks, interleaved
   ``--repeat`` times. Target: the checks add under 10% to publish time (medians).
2. Logic fingerprints: ``RETAIL_GOLD.logic_fingerprint`` (read every SQL file of the unit and
   hash it with the spec: what each unit's gate computes) and silver's
   ``day_logic_fingerprint``; against the gate of an unchanged month (``publish_month``
   writing nothing). Target: milliseconds per unit.
3. Restated input: ``restated_days`` over every landing file of the year (hash each, compare).
4. Dead runs: ``close_dead_runs`` of one pipeline with nothing to close (what every run's start
   pays) and over 100 open runs held by live processes (what the watchdog pays at worst).

Every run creates its own database (etl_bench_<random>) and drops it. Results are printed and
written to bench/results/gold_trust-*.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import fresh_database, machine_info, print_table, verdict, write_results
from bench_retail import prepare_source

TARGET_CHECKS_OVERHEAD = 0.10  # of publish time
TARGET_FINGERPRINT_MS = 10.0  # per unit


def median_ms(body, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        body()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def load_history(landing: Path, source: Path) -> int:
    from reliable_etl.retail.landing import split_export
    from reliable_etl.retail.load import load_day

    split = split_export(source, landing)
    days = [split.first_day + dt.timedelta(days=n) for n in range(split.files)]
    started = time.perf_counter()
    for n, day in enumerate(days, 1):
        load_day(day, run_id=f"bench_trust_{day}", landing_dir=landing)
        if n % 100 == 0 or n == len(days):
            print(f"  load_day: {n}/{len(days)} days, {time.perf_counter() - started:.0f} s", flush=True)
    return len(days)


def bench_checks(months: list[str], repeat: int) -> dict:
    """Each month published with reset by both specs in turn (paired), ``repeat`` times; the best of each."""
    from reliable_etl import db
    from reliable_etl.gold.publish import publish_unit
    from reliable_etl.retail.gold import RETAIL_GOLD

    bare = dataclasses.replace(RETAIL_GOLD, checks=())
    specs = {"without checks": bare, "with checks": RETAIL_GOLD}
    best: dict[str, dict[str, float]] = {label: {} for label in specs}
    print(f"\n[1] every month ({len(months)}) published with reset, without and with the 4 checks in turn")
    for n in range(repeat):
        totals = dict.fromkeys(specs, 0.0)
        for month in months:
            for label, spec in specs.items():
                started = time.perf_counter()
                result = publish_unit(spec, month, run_id=f"bench_checks_{n}", reset=True)
                elapsed = time.perf_counter() - started
                assert result.action == "computed", result
                totals[label] += elapsed
                best[label][month] = min(best[label].get(month, elapsed), elapsed)
        print(f"  run {n + 1}/{repeat}: " + ", ".join(f"{k} {v:.3f} s" for k, v in totals.items()), flush=True)
    with_checks, without = (sum(best[label].values()) for label in ("with checks", "without checks"))
    overhead = with_checks / without - 1
    per_check = {}  # each check alone on every published month: where the overhead goes
    with db.connect(autocommit=True) as conn:
        for check in RETAIL_GOLD.checks:
            query = RETAIL_GOLD.text(check.sql)
            times = []
            for month in months:
                params = {**RETAIL_GOLD.unit_params(month), "target": RETAIL_GOLD.publishes}
                times.append(median_ms(lambda q=query, p=params: conn.execute(q, p).fetchone(), 5))
            per_check[check.name] = round(sum(times), 1)
    return {
        "months": len(months),
        "best_with_s": round(with_checks, 4),
        "best_without_s": round(without, 4),
        "overhead": round(overhead, 4),
        "per_check_ms_all_months": per_check,
        "target": f"< {TARGET_CHECKS_OVERHEAD:.0%}",
        "met": overhead < TARGET_CHECKS_OVERHEAD,
    }


def bench_fingerprints(months: list[str]) -> dict:
    from reliable_etl.retail.gold import RETAIL_GOLD, publish_month
    from reliable_etl.retail.load import day_logic_fingerprint

    print("\n[2] logic fingerprints per unit, against the gate of an unchanged month")
    gold = median_ms(lambda: RETAIL_GOLD.logic_fingerprint, 200)
    day_logic_fingerprint.cache_clear()
    silver_cold = median_ms(lambda: (day_logic_fingerprint.cache_clear(), day_logic_fingerprint()), 200)
    silver = median_ms(day_logic_fingerprint, 200)
    year, month = (int(part) for part in months[0].split("-"))
    unchanged = median_ms(lambda: publish_month(year, month, run_id="bench_gate"), 20)
    return {
        "gold_logic_fingerprint_ms": round(gold, 3),
        "gold_files": len(RETAIL_GOLD.files),
        "silver_logic_fingerprint_ms": round(silver_cold, 3),
        "silver_logic_fingerprint_cached_ms": round(silver, 4),
        "unchanged_month_gate_ms": round(unchanged, 2),
        "target": f"< {TARGET_FINGERPRINT_MS:g} ms per unit",
        "met": gold < TARGET_FINGERPRINT_MS and silver_cold < TARGET_FINGERPRINT_MS,
    }


def bench_restated(landing: Path, days: int) -> dict:
    from reliable_etl.retail.load import restated_days

    print("\n[3] restated input: every landing file of a loaded day hashed and compared")
    size = sum(p.stat().st_size for p in landing.iterdir())
    ms = median_ms(lambda: restated_days(landing), 5)
    return {"days": days, "landing_mb": round(size / 2**20, 1), "restated_days_ms": round(ms, 1)}


def bench_dead_runs() -> dict:
    from reliable_etl import db
    from reliable_etl.ops.holders import close_dead_runs
    from reliable_etl.ops.logs import PipelineLogger
    from reliable_etl.ops.runs import record_run

    print("\n[4] dead runs: the lookup at every run's start, and a watchdog pass over 100 open runs")
    log = PipelineLogger("bench", "bench")
    nothing = median_ms(lambda: close_dead_runs("bench_quiet", found_by="bench", log=log), 50)
    with db.transaction() as conn:
        for n in range(100):  # held by this (live) process: looked at, none closed
            record_run(conn, "bench_open", f"open_{n}", status="running")
    assert close_dead_runs(None, found_by="bench", log=log) == []
    open_runs = median_ms(lambda: close_dead_runs(None, found_by="bench", log=log), 10)
    return {"lookup_nothing_open_ms": round(nothing, 2), "watchdog_100_live_runs_ms": round(open_runs, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, help="CSV or .csv.gz export (default: the real Online Retail file)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="etl-bench-trust-") as tmp, fresh_database() as database:
        from reliable_etl.ops import init_schema

        init_schema()
        src = prepare_source(args.source, Path(tmp))
        print(f"source: {src.origin}, {src.rows:,} rows")
        landing = Path(tmp) / "landing"
        days = load_history(landing, src.csv_path)
        from reliable_etl import db

        with db.connect(autocommit=True) as conn:
            months = [row[0] for row in conn.execute(
                "select distinct to_char(sales_date, 'YYYY-MM') from silver.fact_sales_daily order by 1"
            ).fetchall()]  # fmt: skip
        checks = bench_checks(months, args.repeat)
        fingerprints = bench_fingerprints(months)
        restated = bench_restated(landing, days)
        dead = bench_dead_runs()
        info = machine_info(database)
        from reliable_etl.ops.logs import flush_logs

        flush_logs()  # before the database goes
    print()
    print_table(
        ["measure", "value", "baseline / target", "verdict"],
        [
            ["publish every month, with checks (best)", f"{checks['best_with_s']:.2f} s",
             f"{checks['best_without_s']:.2f} s without", ""],
            *[[f"  {name}, all months", f"{ms:.0f} ms", "", ""]
              for name, ms in checks["per_check_ms_all_months"].items()],
            ["checks' overhead", f"{checks['overhead']:.1%}", checks["target"], verdict(checks["met"])],
            ["gold logic fingerprint per unit", f"{fingerprints['gold_logic_fingerprint_ms']:.2f} ms",
             f"gate of an unchanged month {fingerprints['unchanged_month_gate_ms']:.1f} ms",
             verdict(fingerprints["met"])],
            ["silver logic fingerprint (per process)", f"{fingerprints['silver_logic_fingerprint_ms']:.2f} ms",
             f"cached {fingerprints['silver_logic_fingerprint_cached_ms']:.4f} ms", ""],
            [f"restated_days over {restated['days']} files ({restated['landing_mb']} MB)",
             f"{restated['restated_days_ms']:.0f} ms", "", ""],
            ["dead-run lookup at a run's start", f"{dead['lookup_nothing_open_ms']:.2f} ms", "", ""],
            ["watchdog over 100 live open runs", f"{dead['watchdog_100_live_runs_ms']:.0f} ms", "", ""],
        ],
    )  # fmt: skip
    payload = {"machine": info, "source": src.origin, "checks": checks, "fingerprints": fingerprints,
               "restated": restated, "dead_runs": dead}  # fmt: skip
    print(f"\nresults: {write_results('gold_trust', payload)}")
    print(
        json.dumps({"checks_overhead": checks["overhead"], "fingerprint_ms": fingerprints["gold_logic_fingerprint_ms"]})
    )
    return 0 if checks["met"] and fingerprints["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
