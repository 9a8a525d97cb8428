"""Re-running the retail pipeline over the same input writes nothing; changed input recomputes.

The shipped sample (2011-01-24 .. 2011-02-06) is split into daily landing files, loaded
day by day (load_day + gold_for_day, as the DAG does), and compared before and after a
second pass with ``table_fingerprint``: equal content and equal xmins prove that no row
was rewritten. Gold totals are checked against an independent computation from the CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import shutil
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg
import pytest

from reliable_etl.errors import AuditFailedError
from reliable_etl.gold.publish import publish_unit
from reliable_etl.retail import RETAIL_GOLD_ARGS
from reliable_etl.retail.gold import RETAIL_GOLD, MonthResult, gold_for_day, publish_month, rebuild_gold
from reliable_etl.retail.landing import landing_path
from reliable_etl.retail.load import DayResult, load_day
from reliable_etl_dev.testing import SAMPLE_CSV, table_fingerprint

FIRST_DAY = dt.date(2011, 1, 24)
LAST_DAY = dt.date(2011, 2, 6)
DAYS = [FIRST_DAY + dt.timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]

DATA_TABLES = (
    "bronze.retail_sales",
    "bronze.retail_files",
    "silver.fact_sales_daily",
    "silver.day_fingerprint",
    "gold.fact_sales_monthly",
    "gold.fact_product_performance",
    "gold.fact_country_sales",
    "ops.processed_months",
    "ops.rejected_rows",
)
GOLD_TABLES = ("gold.fact_sales_monthly", "gold.fact_product_performance", "gold.fact_country_sales")
_ISO_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) \d{2}:\d{2}(:\d{2})?$")


# --- independent expectations, straight from the CSV text ---------------------------------


def _accepted(row: dict[str, str]) -> tuple[str, int, Decimal] | None:
    """(month key, quantity, unit price) of a row the pipeline must accept, else None."""
    try:
        quantity = int(row["Quantity"])
        price = Decimal(row["UnitPrice"])
    except (ValueError, InvalidOperation):
        return None
    match = _ISO_TS.match(row["InvoiceDate"].strip())
    if not match or not row["InvoiceNo"].strip() or not row["StockCode"].strip() or not row["Country"].strip():
        return None
    if price < 0:  # bad-debt adjustments are not sales
        return None
    return f"{match[1]}-{match[2]}", quantity, price


def expected_months(files: list[Path]) -> dict[str, dict]:
    """Per month: accepted lines, net amount (sum of qty*price), distinct invoices, rejected rows."""
    months: dict[str, dict] = defaultdict(lambda: {"lines": 0, "net": Decimal(0), "invoices": set(), "rejected": 0})
    for path in files:
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                ok = _accepted(row)
                month = months[row["InvoiceDate"][:7]]
                if ok is None:
                    month["rejected"] += 1
                    continue
                _, quantity, price = ok
                month["lines"] += 1
                month["net"] += quantity * price
                month["invoices"].add(row["InvoiceNo"])
    return {
        key: {**value, "invoices": len(value["invoices"])} for key, value in sorted(months.items()) if value["lines"]
    }


def gold_months(conn: psycopg.Connection) -> dict[str, dict]:
    rows = conn.execute(
        "select month_key, lines, net_amount, invoices from gold.fact_sales_monthly order by month_key"
    ).fetchall()
    return {m: {"lines": lines, "net": net, "invoices": inv} for m, lines, net, inv in rows}


def fingerprints(conn: psycopg.Connection, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, tuple]:
    return {table: table_fingerprint(conn, table) for table in tables}


def run_days(landing: Path, run: str) -> list[tuple[DayResult, MonthResult | None]]:
    """Every sample day through the same calls as the DAG's load_day and publish_gold tasks."""
    results = []
    for day in DAYS:
        run_id = f"{run}__{day}"
        results.append((load_day(day, run_id=run_id, landing_dir=landing), gold_for_day(day, run_id=run_id)))
    return results


@pytest.fixture
def loaded(clean_retail: psycopg.Connection, sample_landing: Path) -> Path:
    """The sample loaded once, every month (February is still open) published."""
    run_days(sample_landing, "first")
    rebuild_gold(run_id="first__gold")
    return sample_landing


# --- tests ---------------------------------------------------------------------------------


def test_first_pass_gold_matches_independent_totals(clean_retail: psycopg.Connection, sample_landing: Path) -> None:
    results = run_days(sample_landing, "first")

    assert [day.day for day, _ in results] == DAYS
    assert all(not day.bronze_skipped for day, _ in results)
    # January closes on the 31st; February stays open (not yet published) until a rebuild
    gold_actions = {day.day: gold.action if gold else None for day, gold in results}
    assert gold_actions[dt.date(2011, 1, 31)] == "computed"
    assert all(gold_actions[d] is None for d in DAYS if d.month == 2)

    assert [r.action for r in rebuild_gold(run_id="first__gold")] == ["computed"]  # February

    expected = expected_months([SAMPLE_CSV])
    assert gold_months(clean_retail) == {
        m: {k: v[k] for k in ("lines", "net", "invoices")} for m, v in expected.items()
    }
    assert sum(v["rejected"] for v in expected.values()) == 1  # the bad-debt adjustment
    reasons = clean_retail.execute("select unit_key, line, reason from ops.rejected_rows").fetchall()
    assert len(reasons) == 1
    assert reasons[0][0] == "2011-01-24"
    assert reasons[0][2].startswith("negative UnitPrice")

    # silver holds exactly the accepted lines, with amount = qty * price
    silver = clean_retail.execute(
        "select to_char(sales_date, 'YYYY-MM'), count(*), sum(amount), bool_and(amount = quantity * unit_price)"
        " from silver.fact_sales_daily group by 1 order by 1"
    ).fetchall()
    assert [(m, n, net) for m, n, net, _ in silver] == [(m, v["lines"], v["net"]) for m, v in expected.items()]
    assert all(exact for *_, exact in silver)


def test_second_pass_writes_nothing(clean_retail: psycopg.Connection, loaded: Path) -> None:
    before = fingerprints(clean_retail)

    results = run_days(loaded, "second")

    assert fingerprints(clean_retail) == before  # content AND xmin: no row rewritten
    for day, gold in results:
        assert day.bronze_skipped, day
        assert day.silver_written == 0, day
        assert gold is not None  # both months are published now, so every day checks its month
        assert gold.action == "unchanged", (day.day, gold)
        assert gold.rows_written == 0
    assert rebuild_gold(run_id="second__gold") == []  # every month current


def test_second_pass_without_gold_keeps_day_results(clean_retail: psycopg.Connection, loaded: Path) -> None:
    """The DayResult of a re-delivery describes the data (rows, rejects), not just the skip."""
    first = clean_retail.execute("select business_date, row_count from bronze.retail_files order by 1").fetchall()
    again = [load_day(day, run_id=f"again__{day}", landing_dir=loaded) for day in DAYS]
    assert [(r.day, r.rows_in) for r in again] == first
    assert sum(r.rejected for r in again) == 1
    assert sum(r.accepted for r in again) == sum(r.rows_in for r in again) - 1


def test_publish_unchanged_month_writes_nothing(clean_retail: psycopg.Connection, loaded: Path) -> None:
    before = fingerprints(clean_retail)

    january = publish_month(2011, 1, run_id="republish")

    assert january == MonthResult("2011-01", "unchanged", january.input_rows, 0)
    assert january.input_rows == expected_months([SAMPLE_CSV])["2011-01"]["lines"]
    assert fingerprints(clean_retail) == before


def _correct_one_line(path: Path) -> None:
    """A late correction: the first sale of the day is re-delivered with 10 more units."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[1][3] = str(int(rows[1][3]) + 10)
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_late_correction_recomputes_its_month_only(clean_retail: psycopg.Connection, loaded: Path) -> None:
    day = dt.date(2011, 1, 26)
    month_fp = "select input_fingerprint from ops.processed_months where month_key = %s"
    january_fp = clean_retail.execute(month_fp, ("2011-01",)).fetchone()[0]
    february_before = clean_retail.execute(
        "select t::text, t.xmin::text from gold.fact_sales_monthly as t where month_key = '2011-02'"
    ).fetchone()
    old = gold_months(clean_retail)["2011-01"]
    _correct_one_line(landing_path(loaded, day))

    result = load_day(day, run_id="correction", landing_dir=loaded)
    gold = gold_for_day(day, run_id="correction")

    assert not result.bronze_skipped
    assert result.silver_written == 1  # one line changed, the others are not rewritten
    assert gold is not None
    assert gold.action == "computed"
    assert gold.rows_written > 0
    assert clean_retail.execute(month_fp, ("2011-01",)).fetchone()[0] != january_fp

    expected = expected_months(sorted(loaded.glob("retail_2011-01-*.csv")))["2011-01"]
    new = gold_months(clean_retail)["2011-01"]
    assert new == {k: expected[k] for k in ("lines", "net", "invoices")}
    assert new["net"] > old["net"]
    assert new["lines"] == old["lines"]
    # February was neither recomputed nor rewritten
    assert (
        clean_retail.execute(
            "select t::text, t.xmin::text from gold.fact_sales_monthly as t where month_key = '2011-02'"
        ).fetchone()
        == february_before
    )


def test_reset_rebuilds_identical_gold(clean_retail: psycopg.Connection, loaded: Path) -> None:
    before = fingerprints(clean_retail, GOLD_TABLES)

    results = rebuild_gold(2011, run_id="reset", reset=True)

    assert [(r.month_key, r.action) for r in results] == [("2011-01", "computed"), ("2011-02", "computed")]
    assert all(r.rows_written > 0 for r in results)
    after = fingerprints(clean_retail, GOLD_TABLES)
    for table in GOLD_TABLES:
        rows, content, versions = after[table]
        assert (rows, content) == before[table][:2], table  # the same gold ...
        assert versions != before[table][2], table  # ... written anew
    status = clean_retail.execute("select month_key, status from ops.processed_months order by 1").fetchall()
    assert status == [("2011-01", "completed"), ("2011-02", "completed")]


def test_dry_run_reports_without_writing(clean_retail: psycopg.Connection, loaded: Path) -> None:
    day = dt.date(2011, 2, 2)
    _correct_one_line(landing_path(loaded, day))
    load_day(day, run_id="correction", landing_dir=loaded)  # February's silver changed, gold not yet
    before = fingerprints(clean_retail)

    plan = rebuild_gold(2011, run_id="dry", dry_run=True)
    reset_plan = rebuild_gold(2011, run_id="dry", reset=True, dry_run=True)

    assert [(r.month_key, r.action) for r in plan] == [("2011-01", "would skip"), ("2011-02", "would compute")]
    assert [(r.month_key, r.action) for r in reset_plan] == [("2011-01", "would compute"), ("2011-02", "would compute")]
    assert all(r.rows_written == 0 for r in plan + reset_plan)
    assert fingerprints(clean_retail) == before
    # without dry_run the same call publishes February only
    assert [(r.month_key, r.action) for r in rebuild_gold(run_id="real")] == [("2011-02", "computed")]


def test_month_emptied_by_corrections_leaves_no_stale_gold(clean_retail: psycopg.Connection, loaded: Path) -> None:
    """Every February file re-delivered without rows: February's gold must go, not keep old totals."""
    february = [d for d in DAYS if d.month == 2]
    for day in february:
        path = landing_path(loaded, day)
        path.write_text(path.read_text().splitlines(keepends=True)[0])
        load_day(day, run_id=f"retracted__{day}", landing_dir=loaded)

    result = gold_for_day(february[-1], run_id="retracted")

    assert result is not None
    assert (result.month_key, result.action, result.input_rows) == ("2011-02", "computed", 0)
    assert result.rows_written > 0
    for table in GOLD_TABLES:
        assert clean_retail.execute(f"select count(*) from {table} where month_key = '2011-02'").fetchone() == (0,)
    assert clean_retail.execute(
        "select status, input_rows from ops.processed_months where month_key = '2011-02'"
    ).fetchone() == ("completed", 0)
    assert publish_month(2011, 2, run_id="retracted-again").action == "unchanged"


def test_every_published_month_was_audited_and_passed(clean_retail: psycopg.Connection, loaded: Path) -> None:
    rows = clean_retail.execute(
        "select unit_key, check_name, severity, passed, published from ops.check_results"
        " where pipeline_name = 'retail' order by unit_key, id"
    ).fetchall()
    checks = [check["name"] for check in RETAIL_GOLD_ARGS["checks"]]
    assert [(month, name) for month, name, *_ in rows] == [(m, c) for m in ("2011-01", "2011-02") for c in checks]
    # the sample's two months: too little history for the volume check to judge, so every check passes
    assert {(severity, passed, published) for *_, severity, passed, published in rows} == {
        ("error", True, True),
        ("warning", True, True),
    }


def test_a_gold_sql_edit_that_drops_lines_is_caught_before_it_is_published(
    clean_retail: psycopg.Connection, loaded: Path, tmp_path: Path
) -> None:
    """The second user's mistake: net amount 'of sales' only. The audit holds the month back."""
    sql = tmp_path / "sql"
    shutil.copytree(RETAIL_GOLD.path("retail").parent, sql)
    monthly = sql / "retail" / "upsert_gold_sales_monthly.sql"
    text = monthly.read_text()
    monthly.write_text(text.replace("where sales_date >=", "where not is_return and sales_date >=", 1))
    edited = dataclasses.replace(RETAIL_GOLD, sql_dir=sql)
    before = fingerprints(clean_retail, GOLD_TABLES)

    with pytest.raises(AuditFailedError) as failed:
        publish_unit(edited, "2011-01", run_id="edited")

    message = str(failed.value)
    assert "net_amount_matches_silver failed (error)" in message
    assert "lines_and_invoices_match_silver failed (error)" in message
    expected = expected_months([SAMPLE_CSV])["2011-01"]
    assert f"silver_net_amount={float(expected['net'])}" in message  # the numbers behind the verdict
    assert fingerprints(clean_retail, GOLD_TABLES) == before  # nothing of the month was published
    status = clean_retail.execute("select status from ops.processed_months where month_key = '2011-01'").fetchone()
    assert status == ("failed",)
    assert publish_month(2011, 1, run_id="fixed").reason == "failed before"  # back on the shipped SQL: republished
