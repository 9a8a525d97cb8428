"""The ``etl`` command, run in-process through ``reliable_etl.cli.main`` on the shipped sample."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import psycopg
import pytest

from reliable_etl.cli import main
from reliable_etl_dev.testing import SAMPLE_CSV

SAMPLE_ROWS = 544  # data rows of the bench's sample (reliable_etl_dev.SAMPLE_CSV)


def etl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def landing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    target = tmp_path / "landing"
    code, out, _ = etl(capsys, "retail", "split", "--source", str(SAMPLE_CSV), "--landing", str(target))
    assert code == 0
    assert out == f"split {SAMPLE_ROWS} rows into 14 daily files (2011-01-24 .. 2011-02-06) in {target}\n"
    return target


def test_split_writes_one_file_per_day(landing: Path) -> None:
    files = sorted(p.name for p in landing.iterdir())
    assert files == [
        f"retail_2011-{m:02d}-{d:02d}.csv" for m, d in [(1, d) for d in range(24, 32)] + [(2, d) for d in range(1, 7)]
    ]
    # Saturdays have no sales: a header-only file, so the day still closes
    assert (landing / "retail_2011-01-29.csv").read_text().count("\n") == 1
    total = sum(p.read_text().count("\n") - 1 for p in landing.iterdir())
    assert total == SAMPLE_ROWS


def test_run_gold_and_summary(
    clean_retail: psycopg.Connection, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = etl(
        capsys, "retail", "run", "--from", "2011-01-24", "--to", "2011-02-06", "--landing", str(landing)
    )

    assert code == 0, err
    lines = out.splitlines()
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 14
    days = [re.match(r"\[(\d+)/14\] (\S+): +(\d+) rows, +(\d+) accepted, +(\d+) rejected", line) for line in progress]
    assert all(days), progress
    assert [int(m[1]) for m in days] == list(range(1, 15))
    assert (days[0][2], days[-1][2]) == ("2011-01-24", "2011-02-06")
    assert sum(int(m[3]) for m in days) == SAMPLE_ROWS
    assert sum(int(m[5]) for m in days) == 1
    assert progress[7].endswith(", gold 2011-01 computed")  # 2011-01-31 closes January
    assert re.fullmatch(r"processed 14 days in \d+\.\ds", lines[-1])

    code, out, _ = etl(capsys, "retail", "gold", "--dry-run")
    assert code == 0
    assert re.fullmatch(r"2011-02: would compute \(new\) +\d+ input rows +0 rows written\n", out)
    assert clean_retail.execute("select count(*) from gold.fact_sales_monthly").fetchone() == (1,)

    code, out, _ = etl(capsys, "retail", "gold")
    assert code == 0
    assert re.fullmatch(r"2011-02: computed \(new\) +\d+ input rows +\d+ rows written\n", out)

    code, out, _ = etl(capsys, "retail", "gold")
    assert (code, out) == (0, "every month is up to date\n")

    code, out, _ = etl(capsys, "retail", "gold", "--year", "2011", "--month", "1", "--dry-run")
    assert code == 0
    assert out.startswith("2011-01: would skip")

    code, out, _ = etl(capsys, "retail", "summary")
    assert code == 0
    assert "Days processed (in the order they were committed):" in out
    assert re.search(r"^  silver\.fact_sales_daily +543$", out, re.MULTILINE), out
    assert re.search(r"^  2011-01 ", out, re.MULTILINE)
    assert re.search(r"^  2011-02 ", out, re.MULTILINE)
    assert re.search(r"^ +1  negative UnitPrice \(bad-debt adjustment, not a sale\)$", out, re.MULTILINE), out

    code, out, _ = etl(capsys, "retail", "summary", "--json")
    assert code == 0
    data = json.loads(out)
    assert [m[0] for m in data["gold_months"]] == ["2011-01", "2011-02"]
    assert len(data["days"]) == 14


def test_rerun_reports_unchanged_files(
    clean_retail: psycopg.Connection, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("retail", "run", "--from", "2011-01-30", "--to", "2011-02-01", "--landing", str(landing))
    assert etl(capsys, *args)[0] == 0

    code, out, _ = etl(capsys, *args)

    assert code == 0
    progress = [line for line in out.splitlines() if line.startswith("[")]
    assert all("(file unchanged)" in line for line in progress), progress
    assert progress[1].endswith("gold 2011-01 unchanged")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retail", "run", "--from", "2011-13-01", "--to", "2011-02-06"], "'2011-13-01' is not a date (YYYY-MM-DD)"),
        (["retail", "run", "--from", "yesterday", "--to", "2011-02-06"], "'yesterday' is not a date (YYYY-MM-DD)"),
        (["retail", "run", "--from", "2011-01-24", "--to", "24/01/2011"], "'24/01/2011' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_date_argument_exits_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("usage: etl retail ")


def test_reversed_range_exits_2(schema: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = etl(capsys, "retail", "run", "--from", "2011-02-06", "--to", "2011-01-24")
    assert (code, out) == (2, "")
    assert err == "etl: error: --to 2011-01-24 is before --from 2011-02-06\n"


def test_bad_landing_file_exits_2_naming_it(
    clean_retail: psycopg.Connection, landing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (landing / "retail_2011-01-25.csv").write_bytes(b"")

    code, out, err = etl(
        capsys, "retail", "run", "--from", "2011-01-24", "--to", "2011-01-26", "--landing", str(landing)
    )

    assert code == 2
    assert out.startswith("[1/3] 2011-01-24:")
    assert "2011-01-26" not in out  # stopped at the bad day, in order
    assert err == f"etl: error: {landing / 'retail_2011-01-25.csv'}: empty file (expected at least the header line)\n"


def test_split_of_a_broken_export_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "export.csv"
    lines = SAMPLE_CSV.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",EIRE", "").replace(",United Kingdom", "")
    source.write_text("".join(lines))

    code, _, err = etl(capsys, "retail", "split", "--source", str(source), "--landing", str(tmp_path / "out"))

    assert code == 2
    assert err == f"etl: error: {source}: line 6: 7 fields, expected 8\n"
    assert not (tmp_path / "out").exists()


def test_a_changed_validation_rule_marks_days_stale_and_run_stale_reloads_them_in_order(
    clean_retail: psycopg.Connection,
    landing: Path,
    tmp_path: Path,
    etl_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """DCGS party items stop being products: every loaded day is stale until `etl retail run --stale`."""
    import shutil

    from reliable_etl import db
    from reliable_etl.config import resource, settings
    from reliable_etl.retail.load import day_logic_fingerprint, stale_days

    assert etl(capsys, "retail", "run", "--from", "2011-01-30", "--to", "2011-02-01", "--landing", str(landing))[0] == 0
    assert stale_days() == []
    products = "select count(*) from silver.fact_sales_daily where stock_code like 'DCGS%%' and is_product"
    assert clean_retail.execute(products).fetchone()[0] > 0

    rules = tmp_path / "sql"
    shutil.copytree(resource("sql"), rules)
    silver = rules / "retail" / "upsert_silver_day.sql"
    silver.write_text(silver.read_text().replace("'^(DCGS|gift_)'", "'^gift_'"))
    etl_env.setenv("ETL_SQL_DIR", str(rules))
    for cached in (settings, db.load_sql, day_logic_fingerprint):
        cached.cache_clear()
    try:
        assert stale_days() == [dt.date(2011, 1, 30), dt.date(2011, 1, 31), dt.date(2011, 2, 1)]
        code, out, _ = etl(capsys, "retail", "run", "--stale", "--landing", str(landing))
        assert code == 0, out
        lines = out.splitlines()
        assert lines[0] == "3 day(s) loaded with other rules than the current ones"
        assert [line.split(":")[0] for line in lines[1:4]] == [
            "[1/3] 2011-01-30",
            "[2/3] 2011-01-31",
            "[3/3] 2011-02-01",
        ]
        assert "gold 2011-01 computed" in lines[2]  # its month republished from the reloaded days
        assert stale_days() == []
        assert clean_retail.execute(products).fetchone()[0] == 0
    finally:  # the next tests read the package's own SQL again
        for cached in (db.load_sql, day_logic_fingerprint):
            cached.cache_clear()


def test_a_restated_landing_file_is_reported_and_run_restated_reloads_it_and_its_month(
    clean_retail: psycopg.Connection,
    landing: Path,
    etl_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A corrected file delivered for a day already loaded: etl health names it, --restated reloads it."""
    import json

    from reliable_etl.config import settings
    from reliable_etl.maintenance.tasks import run_job
    from reliable_etl.retail.landing import file_sha256, landing_path

    etl_env.setenv("ETL_RETAIL_LANDING_DIR", str(landing))
    etl_env.setenv("ETL_RETAIL_START_DATE", "2011-01-30")
    etl_env.setenv("ETL_RETAIL_END_DATE", "2011-02-01")
    settings.cache_clear()
    assert etl(capsys, "retail", "run", "--from", "2011-01-30", "--to", "2011-02-01")[0] == 0
    net = "select net_amount from gold.fact_sales_monthly where month_key = '2011-01'"
    before = clean_retail.execute(net).fetchone()[0]
    day = landing_path(landing, dt.date(2011, 1, 31))
    loaded = file_sha256(day)
    rows = day.read_text().splitlines(keepends=True)
    fields = rows[1].split(",")
    fields[3] = str(int(fields[3]) + 10)  # the corrected quantity of the day's first line
    rows[1] = ",".join(fields)
    day.write_text("".join(rows))

    code, out, _ = etl(capsys, "health", "--no-airflow", "--pipeline", "retail")

    assert code == 1  # unhealthy until it is reloaded
    details = json.loads(out)["pipelines"]["retail_daily"]["details"]
    assert details["restated_days"] == [f"2011-01-31 (loaded {loaded[:12]}, landing now {file_sha256(day)[:12]})"]
    assert details["restated_count"] == 1
    assert "etl retail run --restated" in details["restated_note"]
    run_job("watchdog", run_id="wd_restated")  # the etl_health task: its alert names the restatement
    message = clean_retail.execute(
        "select last_message from ops.alert_state where alert_key = 'watchdog:retail_daily'"
    ).fetchone()[0]
    assert message.endswith(f"; 1 restated day(s): {details['restated_days'][0]}")

    code, out, _ = etl(capsys, "retail", "run", "--restated")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "1 day(s) delivered again with other bytes since they were loaded"
    assert lines[2].startswith("[1/1] 2011-01-31:")
    assert "gold 2011-01 computed" in lines[2]  # its month republished
    assert clean_retail.execute(net).fetchone()[0] > before
    code, out, _ = etl(capsys, "health", "--no-airflow", "--pipeline", "retail")
    assert "restated_days" not in json.loads(out)["pipelines"]["retail_daily"]["details"]


def test_a_changed_gold_sql_file_republishes_its_months(
    clean_retail: psycopg.Connection,
    landing: Path,
    tmp_path: Path,
    etl_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`etl retail gold --dry-run` lists the months a logic change affects; `etl retail gold` republishes them."""
    import shutil

    from reliable_etl import db
    from reliable_etl.config import resource, settings

    assert etl(capsys, "retail", "run", "--from", "2011-01-30", "--to", "2011-01-31", "--landing", str(landing))[0] == 0
    assert etl(capsys, "retail", "gold")[1] == "every month is up to date\n"
    logic = tmp_path / "sql"
    shutil.copytree(resource("sql"), logic)
    countries = logic / "retail" / "upsert_gold_country_sales.sql"
    countries.write_text("-- one more comment: the logic's text changed\n" + countries.read_text())
    etl_env.setenv("ETL_SQL_DIR", str(logic))
    settings.cache_clear()
    db.load_sql.cache_clear()
    try:
        code, out, _ = etl(capsys, "retail", "gold", "--dry-run")
        assert code == 0
        assert [line.split()[:4] for line in out.splitlines()] == [["2011-01:", "would", "compute", "(logic"]]
        code, out, _ = etl(capsys, "retail", "gold")
        assert [line.split(":")[1].split("(")[1].split(")")[0] for line in out.splitlines()] == ["logic changed"]
        assert etl(capsys, "retail", "gold")[1] == "every month is up to date\n"
    finally:
        db.load_sql.cache_clear()
