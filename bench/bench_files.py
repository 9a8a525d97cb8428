"""Fixed-width file speed, as ratios against baselines measured in the same run.

    python bench/bench_files.py [--records 1000000] [--repeat 3]

1. Parse: reliable_etl.files.parser.parse_file of a CDNOW-layout file of --records records (types
   and validation included) vs pandas.read_fwf of the same file (colspecs given, default type
   inference) and vs plain Python slicing of its lines (no types, no checks: a floor for any
   per-record Python code). Target: parse_file >= 3x read_fwf in records/s. Also reported: the
   peak memory parse_file allocates (tracemalloc, one extra run).

The file is the real CDNOW log's records repeated, each copy with other customer ids and dates
shifted by whole weeks; synthetic records (with a NOTE) when the real file is not there. Best
of --repeat runs. Results are printed and written to bench/results/files-*.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import random
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from _common import (
    SHARED,
    Timing,
    fresh_database,
    machine_info,
    measure,
    print_table,
    verdict,
    write_results,
)

from reliable_etl.config import resource
from reliable_etl.files.layouts import FileLayout, load_relationships
from reliable_etl.files.parser import parse_file

REAL_CDNOW = SHARED / "data" / "fixed_width" / "CDNOW_master.txt.gz"
TARGET_PARSE_VS_READ_FWF = 3.0  # parse_file records/s / read_fwf records/s, at least
TARGET_LOAD_VS_COPY = 1.5  # our load's time / a raw COPY's, at most

HEADER = " customer_id  date number_of_cds  dollar_value"
SHIPPED = resource("files", "relationships.json")  # the CDNOW layout the bundle ships


# --- the source file ------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    path: Path
    records: int
    origin: str
    layouts: list[FileLayout]


def prepare_source(records: int, tmp: Path) -> Source:
    """CDNOW_master.txt with ``records`` records in tmp, and its layouts from a relationships.json."""
    if REAL_CDNOW.exists():
        seeds = _real_records()
        origin = f"{REAL_CDNOW.name}: its {len(seeds):,} records repeated, ids and dates varied per copy"
    else:
        rng = random.Random(42)
        seeds = [
            (
                rng.randint(1, 23570),
                dt.date(1997, 1, 1) + dt.timedelta(rng.randint(0, 545)),
                rng.randint(1, 9),
                rng.uniform(5, 200),
            )
            for _ in range(50_000)
        ]
        origin = "synthetic records"
        print(f"NOTE: {REAL_CDNOW} is not there: synthetic records in the CDNOW layout")
    lines = [HEADER]
    dates: dict[dt.date, str] = {}
    for n in range(records):
        copy, at = divmod(n, len(seeds))
        customer, day, cds, dollars = seeds[at]
        day += dt.timedelta(weeks=copy % 50)
        text = dates.get(day) or dates.setdefault(day, f"{day:%Y%m%d}")
        lines.append(f" {(customer + copy * 23_570) % 100_000:05d} {text}{cds:>3}{dollars:>8.2f}")
    path = tmp / "CDNOW_master.txt"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
    return Source(path, records, origin, load_relationships(SHIPPED).layouts_for(path.name))


def _real_records() -> list[tuple[int, dt.date, int, float]]:
    text = gzip.decompress(REAL_CDNOW.read_bytes()).decode("ascii")
    return [
        (int(line[1:6]), dt.datetime.strptime(line[7:15], "%Y%m%d").date(), int(line[15:18]), float(line[18:26]))
        for line in text.splitlines()[1:]
        if line
    ]


# --- 1. parse -------------------------------------------------------------------------


def read_fwf(src: Source) -> int:
    columns = src.layouts[0].columns
    frame = pd.read_fwf(
        src.path, colspecs=[(c.start, c.end) for c in columns], names=[c.name for c in columns], skiprows=1
    )
    return len(frame)


def python_slicing(src: Source) -> int:
    lines = src.path.read_bytes().decode("utf-8").split("\r\n")[1:]
    rows = [(line[1:6], line[7:15], line[15:18], line[18:26]) for line in lines if line]
    return len(rows)


def parse(src: Source) -> int:
    parsed = parse_file(src.path, src.layouts)
    return parsed.tables[0].rows


def bench_parse(src: Source, repeat: int) -> dict:
    counts = {"read_fwf": read_fwf(src), "python slicing": python_slicing(src), "parse_file": parse(src)}
    if set(counts.values()) != {src.records}:
        raise SystemExit(f"the three readers disagree on the number of records: {counts}")
    parsed = parse_file(src.path, src.layouts)
    if parsed.rejects:
        raise SystemExit(f"parse_file rejected {len(parsed.rejects)} records, first: {parsed.rejects[0]}")

    timings = {
        "read_fwf": measure("pandas.read_fwf", lambda: read_fwf(src), repeat=repeat, rows=src.records),
        "slicing": measure("python slicing", lambda: python_slicing(src), repeat=repeat, rows=src.records),
        "parse_file": measure("parse_file", lambda: parse(src), repeat=repeat, rows=src.records),
    }
    tracemalloc.start()
    parse(src)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    def per_s(timing: Timing) -> float:
        return src.records / timing.best

    ratio = per_s(timings["parse_file"]) / per_s(timings["read_fwf"])
    met = ratio >= TARGET_PARSE_VS_READ_FWF
    print()
    print(f"{src.records:,} records, {src.path.stat().st_size / 2**20:.1f} MiB; best of {repeat}")
    rows = [
        ("pandas.read_fwf (colspecs, type inference)", "read_fwf", ""),
        ("python slicing (no types, no checks)", "slicing", ""),
        ("parse_file (types, validation, COPY text)", "parse_file", f">= {TARGET_PARSE_VS_READ_FWF}x"),
    ]
    print_table(
        ["reader", "best", "records/s", "vs read_fwf", "target", "verdict"],
        [
            [
                label,
                f"{timings[name].best:.3f} s",
                f"{per_s(timings[name]):,.0f}",
                f"{per_s(timings[name]) / per_s(timings['read_fwf']):.2f}x",
                target,
                verdict(met) if target else "",
            ]
            for label, name, target in rows
        ],
    )
    print(f"parse_file peak allocated memory (tracemalloc): {peak_mb:,.0f} MiB")
    return {
        "records": src.records,
        "file_bytes": src.path.stat().st_size,
        "source": src.origin,
        "timings": {name: timing.as_dict() for name, timing in timings.items()},
        "parse_file_vs_read_fwf": round(ratio, 2),
        "slicing_vs_read_fwf": round(per_s(timings["slicing"]) / per_s(timings["read_fwf"]), 2),
        "parse_file_peak_mib": round(peak_mb),
        "target_parse_vs_read_fwf_min": TARGET_PARSE_VS_READ_FWF,
        "met": met,
    }


# --- 2. load --------------------------------------------------------------------------


def bench_load(src: Source, repeat: int) -> dict:
    """Our unit of work against a raw COPY of the same parsed rows (both commit)."""
    import logging

    from reliable_etl import db
    from reliable_etl.files.load import _load_once
    from reliable_etl.ops import init_schema
    from reliable_etl.ops.logs import PipelineLogger

    logging.getLogger("reliable_etl").setLevel(logging.WARNING)  # the stage lines of every repetition
    init_schema()
    parsed = parse_file(src.path, src.layouts)
    data = parsed.tables[0].copy_data
    columns = "customer_id bigint, purchase_date date, cd_count bigint, amount numeric, source_line integer"
    log = PipelineLogger("files", "bench", stage="load")
    runs = iter(range(10_000))

    def raw_copy() -> None:
        with db.connect() as conn:
            conn.execute(f"drop table if exists bench_raw; create table bench_raw ({columns})")
            conn.commit()
            with conn.cursor() as cur, cur.copy("copy bench_raw from stdin") as copy:
                copy.write(data)
            conn.commit()

    def ours() -> None:
        _load_once(parsed, run_id=f"bench-{next(runs)}", log=log)

    # the same file into a table keyed on its line: the key's index build is on top
    keyed_table = dataclasses.replace(
        parsed.tables[0],
        layout=dataclasses.replace(parsed.tables[0].layout, table_name="cdnow_keyed", primary_key=("source_line",)),
    )
    keyed = dataclasses.replace(parsed, tables=[keyed_table])

    def ours_keyed() -> None:
        _load_once(keyed, run_id=f"bench-{next(runs)}", log=log)

    def checkpoint() -> None:
        with db.connect(autocommit=True) as conn:
            conn.execute("checkpoint")

    copy_timing, load_timing = Timing("raw COPY", rows=src.records), Timing("etl load", rows=src.records)
    keyed_timing = Timing("etl load, keyed", rows=src.records)
    for i in range(repeat):  # round-robin: a busy moment slows all alike
        for timing, body in ((copy_timing, raw_copy), (load_timing, ours), (keyed_timing, ours_keyed)):
            checkpoint()
            started = time.perf_counter()
            body()
            timing.times.append(time.perf_counter() - started)
            print(f"  {timing.name}: run {i + 1}/{repeat}: {timing.times[-1]:.3f} s", flush=True)
    with db.connect(autocommit=True) as conn:
        loaded = conn.execute("select count(*) from files.cdnow_purchases").fetchone()[0]
    if loaded != src.records:
        raise SystemExit(f"the load left {loaded} rows, not {src.records}")
    ratio = load_timing.best / copy_timing.best
    met = ratio <= TARGET_LOAD_VS_COPY
    print()
    print_table(
        ["load", "best", "records/s", "vs raw COPY", "target", "verdict"],
        [
            ["raw COPY of the parsed rows (plain table)", f"{copy_timing.best:.3f} s",
             f"{src.records / copy_timing.best:,.0f}", "1.00x", "", ""],
            ["etl load, shipped layout: stage, snapshot, swap, ledger", f"{load_timing.best:.3f} s",
             f"{src.records / load_timing.best:,.0f}", f"{ratio:.2f}x", f"<= {TARGET_LOAD_VS_COPY}x", verdict(met)],
            ["etl load, plus a primary key (source_line)", f"{keyed_timing.best:.3f} s",
             f"{src.records / keyed_timing.best:,.0f}", f"{keyed_timing.best / copy_timing.best:.2f}x", "", ""],
        ],
    )  # fmt: skip
    return {
        "timings": {
            "raw_copy": copy_timing.as_dict(),
            "etl_load": load_timing.as_dict(),
            "etl_load_keyed": keyed_timing.as_dict(),
        },
        "load_vs_copy": round(ratio, 2),
        "keyed_load_vs_copy": round(keyed_timing.best / copy_timing.best, 2),
        "target_load_vs_copy_max": TARGET_LOAD_VS_COPY,
        "met": met,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the generated file")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (best is reported)")
    args = parser.parse_args(argv)

    payload: dict = {"repeat": args.repeat}
    with tempfile.TemporaryDirectory(prefix="etl_bench_files_") as tmp_name:
        src = prepare_source(args.records, Path(tmp_name))
        print(f"source: {src.origin}")
        payload["parse"] = bench_parse(src, args.repeat)
        with fresh_database() as database:
            payload["load"] = bench_load(src, args.repeat)
            payload["machine"] = machine_info(database)
    print(f"results: {write_results('files', payload)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
