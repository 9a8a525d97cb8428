"""Bad landing files: the day fails with a message an operator can act on, and nothing half-done.

Structural problems (the file cannot be read as CSV) fail the whole day with
BadInputError naming the file and line. Field-level problems reject the row into
ops.rejected_rows; above the reject threshold the day fails and nothing of it commits.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import psycopg
import pytest

from reliable_etl.errors import BadInputError
from reliable_etl.retail.landing import landing_path
from reliable_etl.retail.load import RejectRateExceededError, load_day
from reliable_etl_dev.testing import table_fingerprint

DAY = dt.date(2011, 1, 25)
HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
ROW = "540900,22423,REGENCY CAKESTAND 3 TIER,{qty},{date},{price},15580,EIRE\n"
DAY_TABLES = ("bronze.retail_sales", "bronze.retail_files", "silver.fact_sales_daily", "silver.day_fingerprint")


def row(qty: str = "4", date: str = "2011-01-25 08:04:00", price: str = "12.75") -> bytes:
    return ROW.format(qty=qty, date=date, price=price).encode()


def with_line_3(good: bytes, line: bytes) -> bytes:
    """The good file with ``line`` put in as line 3 (after the header and one row)."""
    lines = good.splitlines(keepends=True)
    return b"".join([*lines[:2], line, *lines[2:]])


# Structural damage: name -> (file content from the good file, what the message says)
STRUCTURAL = {
    "unterminated quote": (
        lambda good: with_line_3(good, b'540900,22423,"REGENCY CAKESTAND,4,2011-01-25 08:04:00,12.75,15580,EIRE\n'),
        ["line 3:", "unterminated CSV quoted field"],
    ),
    "too few columns": (
        lambda good: with_line_3(good, b"540900,22423,REGENCY CAKESTAND,4,2011-01-25 08:04:00,12.75,15580\n"),
        ["line 3:", "missing data for column Country"],
    ),
    "too many columns": (
        lambda good: with_line_3(good, b"540900,22423,CAKESTAND,4,2011-01-25 08:04:00,12.75,15580,EIRE,x\n"),
        ["line 3:", "extra data after last expected column"],
    ),
    "latin-1 bytes": (
        lambda good: with_line_3(good, "540900,22423,CAFÉ SET,4,2011-01-25 08:04:00,12.75,,EIRE\n".encode("latin-1")),
        ["line 3:", "not UTF-8"],
    ),
    "non-UTF-8 header": (
        lambda good: b"Invoice\xffNo" + good[len(b"InvoiceNo") :],
        ["line 1:", "not UTF-8"],
    ),
    "wrong header": (
        lambda good: good.replace(b"UnitPrice", b"Price", 1),
        ["line 1:", "header is"],
    ),
    "empty file": (lambda good: b"", ["empty file"]),
}


@pytest.fixture
def day_file(clean_retail: psycopg.Connection, sample_landing: Path) -> Path:
    """The landing file of DAY (a sample day of ~60 rows); the landing dir is its parent."""
    return landing_path(sample_landing, DAY)


def day_rows(conn: psycopg.Connection, day: dt.date = DAY) -> tuple[int, int, int]:
    """(bronze rows, bronze files, silver rows) of the day."""
    return conn.execute(
        "select (select count(*) from bronze.retail_sales where business_date = %(d)s),"
        " (select count(*) from bronze.retail_files where business_date = %(d)s),"
        " (select count(*) from silver.fact_sales_daily where sales_date = %(d)s)",
        {"d": day},
    ).fetchone()


def checkpoints(conn: psycopg.Connection, run_id: str) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(
        "select stage, status, error from ops.pipeline_checkpoint where run_id = %s", (run_id,)
    ).fetchall()
    return {stage: (status, error) for stage, status, error in rows}


def run_row(conn: psycopg.Connection, run_id: str) -> tuple[str, str | None]:
    return conn.execute("select status, error from ops.pipeline_runs where run_id = %s", (run_id,)).fetchone()


def rejects(conn: psycopg.Connection, day: dt.date = DAY) -> list[tuple[int, str, str]]:
    return conn.execute(
        "select line, raw, reason from ops.rejected_rows where unit_key = %s order by line", (day.isoformat(),)
    ).fetchall()


# --- structural damage -------------------------------------------------------------------


@pytest.mark.parametrize("case", STRUCTURAL)
def test_structural_damage_fails_the_day_with_file_and_line(
    case: str, day_file: Path, clean_retail: psycopg.Connection
) -> None:
    damage, expected = STRUCTURAL[case]
    day_file.write_bytes(damage(day_file.read_bytes()))

    with pytest.raises(BadInputError) as failure:
        load_day(DAY, run_id="bad", landing_dir=day_file.parent)

    message = str(failure.value)
    assert message.startswith(f"{day_file}: "), message
    for part in expected:
        assert part in message, message
    assert not isinstance(failure.value, RejectRateExceededError)
    assert day_rows(clean_retail) == (0, 0, 0)
    assert rejects(clean_retail) == []
    status, error = run_row(clean_retail, "bad")
    assert status == "failed"
    assert day_file.name in error
    # a file that got as far as COPY leaves its bronze stage marked failed with the error
    for stage, (status, error) in checkpoints(clean_retail, "bad").items():
        assert (stage, status) == ("bronze", "failed")
        assert "BadInputError" in error
        assert day_file.name in error


@pytest.mark.parametrize("case", STRUCTURAL)
def test_bad_redelivery_keeps_the_good_day(case: str, day_file: Path, clean_retail: psycopg.Connection) -> None:
    good = load_day(DAY, run_id="good", landing_dir=day_file.parent)
    before = {table: table_fingerprint(clean_retail, table) for table in DAY_TABLES}
    damage, expected = STRUCTURAL[case]
    day_file.write_bytes(damage(day_file.read_bytes()))

    with pytest.raises(BadInputError, match=expected[0]):
        load_day(DAY, run_id="bad", landing_dir=day_file.parent)

    assert {table: table_fingerprint(clean_retail, table) for table in DAY_TABLES} == before
    assert day_rows(clean_retail) == (good.rows_in, 1, good.accepted)
    assert run_row(clean_retail, "good")[0] == "running"  # gold_for_day closes it; not called here
    assert run_row(clean_retail, "bad")[0] == "failed"


def test_error_line_is_exact_deep_in_a_large_file(clean_retail: psycopg.Connection, tmp_path: Path) -> None:
    """PostgreSQL checks the encoding in chunks; the reported line must still be the bad one."""
    lines = [row(qty=str(n % 50 + 1)) for n in range(20_000)]
    lines[12_344] = "540900,22423,CAF\xc9,4,2011-01-25 08:04:00,12.75,15580,EIRE\n".encode("latin-1")
    landing_path(tmp_path, DAY).write_bytes(HEADER + b"".join(lines))

    with pytest.raises(BadInputError, match=r"retail_2011-01-25\.csv: line 12346: not UTF-8"):
        load_day(DAY, run_id="bad", landing_dir=tmp_path)
    assert day_rows(clean_retail) == (0, 0, 0)


def test_missing_file(clean_retail: psycopg.Connection, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"retail_2011-01-25\.csv: landing file does not exist"):
        load_day(DAY, run_id="missing", landing_dir=tmp_path)

    assert day_rows(clean_retail) == (0, 0, 0)
    assert checkpoints(clean_retail, "missing") == {}  # nothing started
    status, error = run_row(clean_retail, "missing")
    assert status == "failed"
    assert "does not exist" in error


def test_missing_redelivery_keeps_the_good_day(day_file: Path, clean_retail: psycopg.Connection) -> None:
    load_day(DAY, run_id="good", landing_dir=day_file.parent)
    before = {table: table_fingerprint(clean_retail, table) for table in DAY_TABLES}
    day_file.unlink()

    with pytest.raises(BadInputError, match="does not exist"):
        load_day(DAY, run_id="gone", landing_dir=day_file.parent)

    assert {table: table_fingerprint(clean_retail, table) for table in DAY_TABLES} == before


def test_same_file_twice_is_a_no_op(day_file: Path, clean_retail: psycopg.Connection, tmp_path: Path) -> None:
    first = load_day(DAY, run_id="first", landing_dir=day_file.parent)
    before = {table: table_fingerprint(clean_retail, table) for table in DAY_TABLES}
    # delivered again: the same bytes, a new file (new inode, new mtime) in another directory
    again_dir = tmp_path / "again"
    again_dir.mkdir()
    shutil.copy(day_file, landing_path(again_dir, DAY))

    second = load_day(DAY, run_id="second", landing_dir=again_dir)

    assert (first.bronze_skipped, second.bronze_skipped) == (False, True)
    assert second.silver_written == 0
    assert second.sha256 == first.sha256
    assert (second.rows_in, second.accepted, second.rejected) == (first.rows_in, first.accepted, first.rejected)
    assert {table: table_fingerprint(clean_retail, table) for table in DAY_TABLES} == before
    bronze_cp = clean_retail.execute(
        "select metadata->>'skipped', checkpoint_value from ops.pipeline_checkpoint"
        " where run_id = 'second' and stage = 'bronze' and status = 'completed'"
    ).fetchone()
    assert bronze_cp == ("true", first.sha256)


# --- rows that belong elsewhere ------------------------------------------------------------


def test_file_of_another_day_fails_whole(
    clean_retail: psycopg.Connection, sample_landing: Path, tmp_path: Path
) -> None:
    """The 25th's rows delivered as the 26th's file: every row is rejected, the day fails."""
    wrong_day = dt.date(2011, 1, 26)
    landing = tmp_path / "mixed-up"
    landing.mkdir()
    content = landing_path(sample_landing, DAY).read_bytes()
    landing_path(landing, wrong_day).write_bytes(content)
    rows_in_file = content.count(b"\n") - 1

    with pytest.raises(RejectRateExceededError) as failure:
        load_day(wrong_day, run_id="mixed", landing_dir=landing)

    message = str(failure.value)
    assert message.startswith(f"{landing_path(landing, wrong_day)}: {rows_in_file} of {rows_in_file} rows rejected")
    assert "nothing of the day was committed" in message
    assert "First: line 2: row dated 2011-01-25 in the file for 2011-01-26" in message
    assert day_rows(clean_retail, wrong_day) == (0, 0, 0)
    recorded = rejects(clean_retail, wrong_day)
    assert [line for line, _, _ in recorded] == list(range(2, rows_in_file + 2))
    assert {reason for _, _, reason in recorded} == {"row dated 2011-01-25 in the file for 2011-01-26"}


def test_one_row_of_another_day_is_rejected(day_file: Path, clean_retail: psycopg.Connection) -> None:
    day_file.write_bytes(with_line_3(day_file.read_bytes(), row(date="2011-01-24 09:00:00")))

    result = load_day(DAY, run_id="one-off", landing_dir=day_file.parent)

    assert result.rejected == 1
    assert rejects(clean_retail) == [
        (3, row(date="2011-01-24 09:00:00").decode().rstrip("\n"), "row dated 2011-01-24 in the file for 2011-01-25")
    ]
    assert day_rows(clean_retail) == (result.rows_in, 1, result.rows_in - 1)


# --- field-level errors --------------------------------------------------------------------

FIELD_ERRORS = {
    "unparseable date": (row(date="25/01/2011 8h04"), "InvoiceDate is not YYYY-MM-DD HH:MM[:SS]: '25/01/2011 8h04'"),
    "impossible date": (row(date="2011-02-30 08:04:00"), "InvoiceDate is not a calendar date: '2011-02-30 08:04:00'"),
    "hour 25": (row(date="2011-01-25 25:04"), "InvoiceDate is not YYYY-MM-DD HH:MM[:SS]: '2011-01-25 25:04'"),
    "hour 25, UCI format": (row(date="1/25/2011 25:04"), "InvoiceDate is not YYYY-MM-DD HH:MM[:SS]: '1/25/2011 25:04'"),
    "unparseable quantity": (row(qty="4.5"), "Quantity is not a whole number: '4.5'"),
    "unparseable price": (row(price="12.7.5"), "UnitPrice is not a number: '12.7.5'"),
    "empty price": (row(price=""), "missing UnitPrice"),
}


@pytest.mark.parametrize("case", FIELD_ERRORS)
def test_bad_field_rejects_the_row_under_threshold(case: str, day_file: Path, clean_retail: psycopg.Connection) -> None:
    bad_line, reason = FIELD_ERRORS[case]
    good_rows = day_file.read_bytes().count(b"\n") - 1
    day_file.write_bytes(with_line_3(day_file.read_bytes(), bad_line))

    result = load_day(DAY, run_id="field", landing_dir=day_file.parent)

    assert (result.rows_in, result.accepted, result.rejected) == (good_rows + 1, good_rows, 1)
    assert rejects(clean_retail) == [(3, bad_line.decode().rstrip("\n"), reason)]
    assert day_rows(clean_retail) == (good_rows + 1, 1, good_rows)
    assert clean_retail.execute(
        "select count(*) from silver.fact_sales_daily where sales_date = %s and source_line = 3", (DAY,)
    ).fetchone() == (0,)
    assert run_row(clean_retail, "field") == ("running", None)


@pytest.mark.parametrize("case", FIELD_ERRORS)
def test_bad_field_above_threshold_commits_nothing(case: str, day_file: Path, clean_retail: psycopg.Connection) -> None:
    bad_line, reason = FIELD_ERRORS[case]
    good_rows = day_file.read_bytes().count(b"\n") - 1
    day_file.write_bytes(with_line_3(day_file.read_bytes(), bad_line))

    with pytest.raises(RejectRateExceededError) as failure:
        load_day(DAY, run_id="strict", landing_dir=day_file.parent, threshold=0.0)

    message = str(failure.value)
    assert message.startswith(f"{day_file}: 1 of {good_rows + 1} rows rejected")
    assert f"First: line 3: {reason}" in message
    assert failure.value.rejects == [(3, bad_line.decode().rstrip("\n"), reason)]
    assert day_rows(clean_retail) == (0, 0, 0)
    assert clean_retail.execute("select count(*) from silver.day_fingerprint").fetchone() == (0,)
    # kept for diagnosis although the day is not committed
    assert rejects(clean_retail) == [(3, bad_line.decode().rstrip("\n"), reason)]
    stages = checkpoints(clean_retail, "strict")
    assert set(stages) == {"bronze", "validate"}
    assert {status for status, _ in stages.values()} == {"failed"}
    assert all(error.startswith("RejectRateExceededError: ") for _, error in stages.values())
    status, error = run_row(clean_retail, "strict")
    assert status == "failed"
    assert "1 of" in error


def test_many_bad_rows_fail_at_the_default_threshold(day_file: Path, clean_retail: psycopg.Connection) -> None:
    """10 bad dates in ~70 rows is far above the default 5%; the rejects name every line."""
    good = day_file.read_bytes()
    bad = b"".join(row(date=f"2011-01-25 25:{n:02d}") for n in range(10))
    day_file.write_bytes(good + bad)
    first_bad = good.count(b"\n") + 1

    with pytest.raises(RejectRateExceededError, match=r"10 x InvoiceDate is not YYYY-MM-DD HH:MM\[:SS\]"):
        load_day(DAY, run_id="many", landing_dir=day_file.parent)

    assert day_rows(clean_retail) == (0, 0, 0)
    assert [line for line, _, _ in rejects(clean_retail)] == list(range(first_bad, first_bad + 10))


def test_good_redelivery_after_a_failed_day_clears_its_rejects(
    day_file: Path, clean_retail: psycopg.Connection
) -> None:
    good = day_file.read_bytes()
    day_file.write_bytes(with_line_3(good, row(qty="x")))
    with pytest.raises(RejectRateExceededError):
        load_day(DAY, run_id="strict", landing_dir=day_file.parent, threshold=0.0)
    assert len(rejects(clean_retail)) == 1

    day_file.write_bytes(good)  # the corrected file arrives
    result = load_day(DAY, run_id="fixed", landing_dir=day_file.parent, threshold=0.0)

    assert (result.rejected, result.accepted) == (0, result.rows_in)
    assert rejects(clean_retail) == []
    assert day_rows(clean_retail) == (result.rows_in, 1, result.rows_in)


def test_original_uci_date_format_is_accepted(day_file: Path, clean_retail: psycopg.Connection) -> None:
    day_file.write_bytes(with_line_3(day_file.read_bytes(), row(date="1/25/2011 8:04")))

    result = load_day(DAY, run_id="uci", landing_dir=day_file.parent)

    assert result.rejected == 0
    assert clean_retail.execute(
        "select invoiced_at from silver.fact_sales_daily where sales_date = %s and source_line = 3", (DAY,)
    ).fetchone() == (dt.datetime(2011, 1, 25, 8, 4),)


def test_summary_groups_rejects_by_reason(day_file: Path, clean_retail: psycopg.Connection) -> None:
    """The reason is cut before its value, not at the first colon (the format has 'HH:MM')."""
    from reliable_etl.retail.report import summary

    bad = row(date="2011-01-25 25:00") + row(date="2011-01-25 26:00") + row(qty="x")
    day_file.write_bytes(day_file.read_bytes() + bad)

    load_day(DAY, run_id="reasons", landing_dir=day_file.parent, threshold=0.1)

    assert summary()["rejects"] == [
        ("InvoiceDate is not YYYY-MM-DD HH:MM[:SS]", 2),
        ("Quantity is not a whole number", 1),
    ]
