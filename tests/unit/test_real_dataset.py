"""The full UCI Online Retail data set (541,909 rows) through the daily code path, day by day.

Every amount is accounted for: gold's net amount plus the amount of the rejected rows
(parsed back from their raw CSV text) equals the export's total, computed here
independently with the csv module and Decimal.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from reliable_etl import db
from reliable_etl.retail.gold import gold_for_day, rebuild_gold
from reliable_etl.retail.landing import split_export
from reliable_etl.retail.load import load_day
from reliable_etl_dev.testing import REAL_RETAIL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REAL_RETAIL.exists(), reason=f"real data set not found at {REAL_RETAIL}"),
]

TOTAL_AMOUNT = Decimal("9747747.934")  # sum of Quantity * UnitPrice over every row
TOTAL_ROWS = 541_909
# rows per month, from the data set's README
README_MONTH_ROWS = {
    "2010-12": 42_481,
    "2011-01": 35_147,
    "2011-02": 27_707,
    "2011-03": 36_748,
    "2011-04": 29_916,
    "2011-05": 37_030,
    "2011-06": 36_874,
    "2011-07": 39_518,
    "2011-08": 35_284,
    "2011-09": 50_226,
    "2011-10": 60_742,
    "2011-11": 84_711,
    "2011-12": 25_525,
}


def amount(fields: list[str]) -> Decimal:
    return int(fields[3]) * Decimal(fields[5])


def scan_export(path: Path) -> tuple[int, Decimal, dict[str, Decimal]]:
    """(rows, total amount, net amount per month of the rows with a non-negative price)."""
    rows, total, net = 0, Decimal(0), Counter()
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for fields in reader:
            rows += 1
            value = amount(fields)
            total += value
            if Decimal(fields[5]) >= 0:
                net[fields[4][:7]] += value
    return rows, total, dict(net)


@pytest.fixture(scope="module")
def real_run(schema: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict:
    """Split the real export and run load_day + gold_for_day for every day, then publish December."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def progress(text: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"  real data set: {text}", flush=True)

    with db.connect(autocommit=True) as conn:
        conn.execute(
            "truncate bronze.retail_sales, bronze.retail_files, silver.fact_sales_daily, silver.day_fingerprint,"
            " gold.fact_sales_monthly, gold.fact_product_performance, gold.fact_country_sales,"
            " ops.processed_months, ops.pipeline_checkpoint, ops.pipeline_logs, ops.pipeline_runs, ops.rejected_rows"
        )
    landing = tmp_path_factory.mktemp("real-landing")
    started = time.monotonic()
    split = split_export(REAL_RETAIL, landing)
    progress(f"split {split.rows:,} rows into {split.files} files in {time.monotonic() - started:.1f}s")

    days, gold = [], {}
    day = split.first_day
    while day <= split.last_day:
        run_id = f"real__{day}"
        days.append(load_day(day, run_id=run_id, landing_dir=landing))
        result = gold_for_day(day, run_id=run_id)
        if result:
            gold[day] = result
        if day.day == 1 or day == split.last_day:
            progress(f"{day} done, {time.monotonic() - started:.0f}s")
        day += dt.timedelta(days=1)
    rebuilt = rebuild_gold(run_id="real__gold")
    progress(f"{len(days)} days and gold in {time.monotonic() - started:.0f}s")
    return {"split": split, "days": days, "gold": gold, "rebuilt": rebuilt}


def test_split_covers_every_day(real_run: dict) -> None:
    split = real_run["split"]
    assert (split.first_day, split.last_day) == (dt.date(2010, 12, 1), dt.date(2011, 12, 9))
    assert split.rows == TOTAL_ROWS
    assert split.files == len(real_run["days"]) == 374
    assert sum(d.rows_in for d in real_run["days"]) == TOTAL_ROWS


def test_months_are_published_as_they_close(real_run: dict) -> None:
    closing = {d: r.action for d, r in real_run["gold"].items()}
    assert len(closing) == 12  # Dec 2010 .. Nov 2011, each on its last day
    assert all((d + dt.timedelta(days=1)).day == 1 for d in closing)
    assert set(closing.values()) == {"computed"}
    # December 2011 ends with the data (the 9th): not closed, published by the rebuild
    assert [(r.month_key, r.action) for r in real_run["rebuilt"]] == [("2011-12", "computed")]


def test_every_amount_is_accounted_for(real_run: dict, conn: psycopg.Connection) -> None:
    rows, total, net_by_month = scan_export(REAL_RETAIL)
    assert (rows, total) == (TOTAL_ROWS, TOTAL_AMOUNT)

    gold = dict(conn.execute("select month_key, net_amount from gold.fact_sales_monthly").fetchall())
    rejected = sum(
        (amount(next(csv.reader([raw]))) for (raw,) in conn.execute("select raw from ops.rejected_rows")), Decimal(0)
    )
    assert len(gold) == 13
    assert sum(gold.values()) + rejected == TOTAL_AMOUNT
    assert gold == net_by_month


def test_rows_per_month_match_the_readme(real_run: dict, conn: psycopg.Connection) -> None:
    silver = dict(
        conn.execute(
            "select to_char(sales_date, 'YYYY-MM'), count(*) from silver.fact_sales_daily group by 1"
        ).fetchall()
    )
    rejects = Counter(
        dict(conn.execute("select left(unit_key, 7), count(*) from ops.rejected_rows group by 1").fetchall())
    )
    gold_lines = dict(conn.execute("select month_key, lines from gold.fact_sales_monthly").fetchall())

    assert {m: silver[m] + rejects[m] for m in silver} == README_MONTH_ROWS
    assert gold_lines == silver
    assert sum(rejects.values()) == sum(d.rejected for d in real_run["days"])
    reasons = conn.execute("select reason, count(*) from ops.rejected_rows group by 1").fetchall()
    assert reasons == [("negative UnitPrice (bad-debt adjustment, not a sale)", 2)]


def test_real_mess_is_classified(real_run: dict, conn: psycopg.Connection) -> None:
    """The README's counts of cancellations, rows without a customer and countries survive into silver."""
    returns, no_customer, countries = conn.execute(
        "select count(*) filter (where is_return), count(*) filter (where customer_id is null),"
        " count(distinct country) from silver.fact_sales_daily"
    ).fetchone()
    assert returns == 9_288
    assert no_customer == 135_080 - 2  # the two rejected bad-debt rows have no customer either
    assert countries == 38
