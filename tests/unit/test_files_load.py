"""Fixed-width loads against a real PostgreSQL: exact data, atomic swaps, snapshots, bad input.

Every bad delivery must leave the previous contents exactly as they were (table checksum).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from reliable_etl.errors import BadInputError
from reliable_etl.files.layouts import load_relationships
from reliable_etl.files.load import FileRefusedError, find_files, load_directory, load_file, results_for_run
from reliable_etl.files.snapshots import checksum, rollback, snapshots
from reliable_etl_dev.testing import REAL_CDNOW
from reliable_etl_dev.testing.files import CLASS, student, students_file


def load(dirs: dict[str, Path], run_id: str = "r1", **kwargs) -> list:
    return load_directory(dirs["relationships"], dirs["drop"], run_id=run_id, archive_dir=dirs["archive"], **kwargs)


def rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select student_id, name, birth_date, gpa, source_line from files.students order by 1"
    ).fetchall()


def test_a_file_loads_typed_mapped_and_archived(files_env, conn):
    students_file(files_env["drop"] / "students.txt", CLASS)
    (result,) = load(files_env)
    assert (result.status, result.records, result.loaded, result.rejected) == ("loaded", 6, 6, 0)
    assert rows(conn)[:2] == [
        (1, "Zoë", dt.date(2008, 2, 29), Decimal("3.50"), 2),
        (2, "Ana", dt.date(2008, 2, 29), Decimal("3.50"), 3),
    ]
    columns = conn.execute(
        "select column_name from information_schema.columns where table_schema = 'files' and table_name = 'students'"
        " order by ordinal_position"
    ).fetchall()
    assert [c[0] for c in columns] == ["student_id", "name", "birth_date", "gpa", "source_line"]  # grade: unmapped
    assert not (files_env["drop"] / "students.txt").exists()
    assert Path(result.archived_to).parent.parent == files_env["archive"]
    ledger = conn.execute("select status, records, loaded, archived_to from ops.file_loads").fetchall()
    assert ledger == [("loaded", 6, 6, result.archived_to)]


def test_the_same_bytes_again_change_nothing(files_env, conn):
    path = students_file(files_env["drop"] / "students.txt", CLASS)
    data = path.read_bytes()
    load(files_env)
    before = conn.execute("select xmin::text, * from files.students order by student_id").fetchall()
    (files_env["drop"] / "students.txt").write_bytes(data)
    (again,) = load(files_env, "r2")
    assert again.status == "unchanged"
    assert conn.execute("select xmin::text, * from files.students order by student_id").fetchall() == before
    assert snapshots("students") == []
    assert not (files_env["drop"] / "students.txt").exists()  # archived all the same


def test_each_new_delivery_keeps_the_previous_as_a_snapshot_and_rollback_restores_it_exactly(files_env, conn):
    versions = [CLASS[: n + 2] for n in range(5)]  # five nights, a student more each night
    sums = []
    for night, version in enumerate(versions):
        students_file(files_env["drop"] / "students.txt", version)
        load(files_env, f"night{night}")
        sums.append(checksum(conn, "files", "students"))
    kept = snapshots("students")
    assert len(kept) == 3  # ETL_FILES_KEEP_SNAPSHOTS
    assert [s["row_count"] for s in kept] == [5, 4, 3]  # newest first: nights 3, 2, 1

    result = rollback("students", run_id="undo")  # the newest snapshot: night 3
    assert checksum(conn, "files", "students") == sums[3]
    assert (result.rows, result.checksum) == sums[3]
    assert result.saved_as in {s["snapshot"] for s in snapshots("students")}  # night 4 kept: undoable

    oldest = kept[-1]["snapshot"]
    rollback("students", oldest, run_id="undo2")
    assert checksum(conn, "files", "students") == sums[1]
    with pytest.raises(BadInputError, match="no snapshot 'nope'"):
        rollback("students", "nope", run_id="undo3")


@pytest.fixture
def loaded_night(files_env, conn):
    """Night one loaded; returns the table's checksum, which bad deliveries must leave as it is."""
    students_file(files_env["drop"] / "students.txt", CLASS)
    load(files_env, "night1")
    return checksum(conn, "files", "students")


def test_short_long_and_truncated_lines_are_rejects_naming_the_line(files_env, conn, loaded_night):
    good = [student(n, f"S{n}") for n in range(10, 110)]
    lines = [*good[:10], good[10][:30], good[11] + "XX", *good[12:]]
    path = files_env["drop"] / "students.txt"
    students_file(path, lines)
    path.write_bytes(path.read_bytes() + student(99, "Last")[:25].encode())  # no line ending: truncated
    (result,) = load(files_env, "night2")
    assert (result.status, result.records, result.rejected) == ("loaded", 101, 3)
    rejects = conn.execute(
        "select source, line, reason from ops.rejected_rows where pipeline_name = 'files' order by line"
    ).fetchall()
    assert [(s, line) for s, line, _ in rejects] == [("students.txt", 12), ("students.txt", 13), ("students.txt", 102)]
    assert "30 characters, the layout needs 40" in rejects[0][2]
    assert "42 characters" in rejects[1][2]
    assert "truncated last line" in rejects[2][2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"students.txt: the file is empty"),
        (b"HEADER only\n", r"students.txt: no data lines after 1 header line"),
        (
            ("HEADER\n" + student(1, "Ok") + "\n").encode() + b"\x81" + student(2, "Bad").encode()[1:] + b"\n",
            r"students.txt: line 3: .*0x81",
        ),
    ],
)
def test_unreadable_files_fail_naming_the_file_and_keep_the_previous_data(
    files_env, conn, loaded_night, content, message
):
    (files_env["drop"] / "students.txt").write_bytes(content)
    (result,) = load(files_env, "night2")
    assert result.status == "failed"
    assert result.error is not None
    assert re.search(message, result.error), result.error
    assert checksum(conn, "files", "students") == loaded_night
    assert (files_env["drop"] / "students.txt").exists()  # not archived: fix it and re-run


def test_duplicate_primary_keys_fail_naming_key_and_lines(files_env, conn, loaded_night):
    students_file(files_env["drop"] / "students.txt", [*CLASS, student(3, "Twin")])
    (result,) = load(files_env, "night2")
    assert result.status == "failed"
    assert "duplicate primary key (student_id) of students: (3) on lines 4, 8" in result.error
    assert checksum(conn, "files", "students") == loaded_night
    assert conn.execute("select count(*) from pg_tables where tablename like '\\_load\\_%'").fetchone()[0] == 0


def test_above_the_error_rate_nothing_loads_and_the_rejects_are_kept(files_env, conn, loaded_night):
    lines = [student(n, f"S{n}") for n in range(10, 30)]
    lines[3] = lines[3][:6] + " " * 16 + lines[3][22:]  # name required
    lines[7] = student(17, "X", birth="13/01/2008")
    students_file(files_env["drop"] / "students.txt", lines)
    with pytest.raises(FileRefusedError, match=r"2 of 20 records rejected \(10.0% > 5.0% allowed\)"):
        load_file(files_env["drop"] / "students.txt", load_relationships(files_env["relationships"]), run_id="night2")
    assert checksum(conn, "files", "students") == loaded_night
    reasons = conn.execute("select line, reason from ops.rejected_rows order by line").fetchall()
    assert reasons[0] == (5, "name: required, but empty")
    assert reasons[1][0] == 9
    assert "birth: '13/01/2008' is not a date (%m/%d/%Y)" in reasons[1][1]
    assert conn.execute("select status from ops.file_loads where run_id = 'night2'").fetchone() == ("refused",)


def test_a_dry_run_writes_and_moves_nothing(files_env, conn, loaded_night):
    students_file(files_env["drop"] / "students.txt", CLASS[:3])
    (result,) = load(files_env, "night2", dry_run=True)
    assert (result.status, result.loaded) == ("would load", 3)
    assert checksum(conn, "files", "students") == loaded_night
    assert (files_env["drop"] / "students.txt").exists()


def test_a_missing_file_is_named(files_env):
    relationships = load_relationships(files_env["relationships"])
    assert find_files(relationships, files_env["drop"]) == ({}, ["students.txt"])


@pytest.mark.parametrize("point", ["files.staged", "files.swapped", "files.recorded", "files.committed"])
def test_a_crash_mid_load_leaves_the_previous_data_and_the_next_run_closes_it(files_env, conn, loaded_night, point):
    students_file(files_env["drop"] / "students.txt", CLASS[:2])
    env = {**os.environ, "ETL_FAILPOINTS": point}
    cmd = [sys.executable, "-m", "reliable_etl.cli", "files", "load", "--no-notify"]
    crashed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    committed = point == "files.committed"  # killed between units: the file loaded, not yet archived
    assert (checksum(conn, "files", "students") == loaded_night) is not committed
    assert (files_env["drop"] / "students.txt").exists()
    assert conn.execute("select count(*) from ops.pipeline_runs where status = 'running'").fetchone()[0] == 1
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert conn.execute("select count(*) from files.students").fetchone()[0] == 2
    runs = conn.execute(
        "select status, left(error, 13) from ops.pipeline_runs where run_id <> 'night1' order by started_at"
    ).fetchall()
    assert runs == [("failed", "process lost:"), ("success", None)]  # the killed run closed by the next one
    stale = "select count(*) from ops.pipeline_checkpoint where status = 'in_progress'"
    assert conn.execute(stale).fetchone()[0] == 0


def test_the_real_cdnow_file_loads_value_for_value(tmp_path, files_env, conn, etl_env):
    if not REAL_CDNOW.exists():
        pytest.skip(f"{REAL_CDNOW} is not on this machine")
    from reliable_etl.config import resource

    drop = files_env["drop"]
    with gzip.open(REAL_CDNOW) as src, (drop / "CDNOW_master.txt").open("wb") as dst:
        shutil.copyfileobj(src, dst)
    expected = []  # an independent reader: the README's layout, plain slicing
    for number, line in enumerate((drop / "CDNOW_master.txt").read_text().splitlines()[1:], start=2):
        expected.append(
            (
                int(line[1:6]),
                dt.datetime.strptime(line[7:15], "%Y%m%d").date(),
                int(line[15:18]),
                Decimal(line[18:26].strip()),
                number,
            )
        )
    relationships = resource("files", "relationships.json")
    (result,) = load_directory(relationships, drop, run_id="cdnow", archive_dir=files_env["archive"])
    assert (result.status, result.records, result.loaded, result.rejected) == ("loaded", 69_659, 69_659, 0)
    loaded = conn.execute(
        "select customer_id, purchase_date, cd_count, amount, source_line"
        " from files.cdnow_purchases order by source_line"
    ).fetchall()
    assert loaded == expected


def test_the_sensor_waits_then_fails_naming_the_file_that_never_came(files_env):
    from airflow.sdk.exceptions import AirflowFailException

    from reliable_etl.files.tasks import poke_for_files

    now = dt.datetime.now(dt.UTC)
    assert poke_for_files(run_id="night", logical_date=now).is_done is False  # before the deadline: wait
    with pytest.raises(AirflowFailException, match=r"students.txt did not arrive in .*drop by "):
        poke_for_files(run_id="night", logical_date=now - dt.timedelta(hours=5))
    path = students_file(files_env["drop"] / "students.txt", CLASS)
    arrived = poke_for_files(run_id="night", logical_date=now)
    assert (arrived.is_done, arrived.xcom_value) == (True, [str(path)])


def test_the_report_fails_the_run_after_notifying_naming_the_files_that_failed_or_never_came(files_env, conn):
    from airflow.sdk.exceptions import AirflowFailException

    from reliable_etl.files.tasks import load_one, report_run

    with pytest.raises(AirflowFailException, match=r"^run n1 failed: no file for students.txt \(notified: slack "):
        report_run(run_id="n1", started=None, found=None)  # the sensor gave up: no list of files
    path = students_file(files_env["drop"] / "students.txt", [CLASS[0], *["short line"] * 3])
    with pytest.raises(AirflowFailException, match="3 of 4 records rejected"):
        load_one(str(path), run_id="n2")
    with pytest.raises(AirflowFailException, match=r"^run n2 failed: students.txt refused \(notified: "):
        report_run(run_id="n2", started=None, found=[str(path)])
    with pytest.raises(AirflowFailException, match=r"^run n3 failed: no outcome recorded for students.txt \(see"):
        report_run(run_id="n3", started=None, found=[str(path)])  # its load_file was killed, say
    students_file(path, CLASS)
    load_one(str(path), run_id="n4")
    assert report_run(run_id="n4", started=None, found=[str(path)])["status"] == "success"
    assert conn.execute(
        "select run_id, status, left(error, 40) from ops.pipeline_runs where pipeline_name = 'files' order by run_id"
    ).fetchall() == [
        ("n1", "failed", "no file for students.txt"),
        ("n2", "failed", "students.txt: error rate above the thres"),
        ("n3", "failed", "no outcome recorded for students.txt (se"),
        ("n4", "success", None),
    ]


def test_directory_access_is_retried_three_times(files_env, monkeypatch):
    from reliable_etl.files.load import list_directory

    calls = []
    real = Path.iterdir

    def flaky(self: Path):
        calls.append(self)
        if len(calls) < 3:
            raise OSError(5, "Input/output error")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", flaky)
    assert list_directory(files_env["drop"]) == []
    assert len(calls) == 3
    calls.clear()
    monkeypatch.setattr(Path, "iterdir", lambda self: calls.append(self) or (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(OSError, match="EIO"):
        list_directory(files_env["drop"])
    assert len(calls) == 3


def test_a_file_of_several_record_kinds_loads_each_kind_into_its_table_at_once(files_env, conn):
    entries = {
        "filename": "ach_*.txt",
        "table_name": "ach_entries",
        "record_type": {"start": 0, "width": 1, "value": "6"},
        "skip_record_types": ["1", "8", "9"],
        "record_length": 27,
        "columns": [
            {"name": "kind", "start": 0, "width": 1},
            {"name": "account", "start": 1, "width": 10, "required": True},
            {"name": "amount", "start": 11, "width": 10, "type": "decimal", "implied_decimals": 2},
            {"name": "batch", "start": 21, "width": 6, "type": "int"},
        ],
        "field_mapping": {"account": "account", "amount": "amount", "batch": "batch_no"},
    }
    batches = {
        **entries,
        "table_name": "ach_batches",
        "record_type": {"start": 0, "width": 1, "value": "5"},
        "columns": [
            {"name": "kind", "start": 0, "width": 1},
            {"name": "company", "start": 1, "width": 20, "required": True},
            {"name": "batch", "start": 21, "width": 6, "type": "int"},
        ],
        "field_mapping": {"company": "company", "batch": "batch_no"},
    }
    doc = {"primary_keys": {"ach_batches": ["batch_no"]}, "file_layouts": [entries, batches]}
    files_env["relationships"].write_text(json.dumps(doc))
    lines = [
        "1" + "FILE HEADER".ljust(26),
        "5" + "ACME PAYROLL".ljust(20) + "000001",
        "6" + "0012345678" + "0000150075" + "000001",
        "6" + "0099999999" + "0000000001" + "000001",
        "8" + "BATCH CONTROL".ljust(26),
        "9" + "FILE CONTROL".ljust(26),
    ]
    (files_env["drop"] / "ach_20261123.txt").write_text("\n".join(lines) + "\n")
    (result,) = load(files_env)
    assert (result.status, result.tables, result.records, result.loaded) == (
        "loaded",
        ["ach_batches", "ach_entries"],
        3,
        3,
    )
    assert conn.execute("select company, batch_no, source_line from files.ach_batches").fetchall() == [
        ("ACME PAYROLL", 1, 2)
    ]
    assert conn.execute("select account, amount, batch_no from files.ach_entries order by source_line").fetchall() == [
        ("0012345678", Decimal("1500.75"), 1),
        ("0099999999", Decimal("0.01"), 1),
    ]


def table_columns(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'files' and table_name = %s order by ordinal_position",
        (table,),
    ).fetchall()


def primary_key(conn: psycopg.Connection, table: str) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid"
            " and a.attnum = any(i.indkey) where i.indisprimary and i.indrelid = %s::regclass order by a.attnum",
            (f"files.{table}",),
        ).fetchall()
    ]


def test_the_seed_systems_relationships_json_loads_end_to_end(files_env, conn):
    """The exact shape the replaced system writes: layouts keyed by file name, its names folded."""
    seed = {
        "primary_keys": {"DF_8865": ["CASES_KEY"]},
        "file_layouts": {
            "STUDENT.DAT": {
                "filename": "STUDENT.DAT",
                "table_name": "DF_8865",
                "columns": [
                    {"name": "CASES_KEY", "start": 0, "width": 10},
                    {"name": "SURNAME", "start": 10, "width": 30},
                ],
                "field_mapping": {"CASES_KEY": "studentId", "SURNAME": "surname"},
            }
        },
    }
    files_env["relationships"].write_text(json.dumps(seed))
    people = [("0000012345", "O'Brien"), ("S-00000002", "Müller-Lüdenscheidt"), ("0000000003", "Ng")]
    (files_env["drop"] / "STUDENT.DAT").write_text("".join(f"{k:<10}{s:<30}\r\n" for k, s in people))
    (result,) = load(files_env)
    assert (result.status, result.tables, result.records, result.loaded) == ("loaded", ["df_8865"], 3, 3)
    assert table_columns(conn, "df_8865") == [("student_id", "text"), ("surname", "text"), ("source_line", "integer")]
    assert primary_key(conn, "df_8865") == ["student_id"]
    assert conn.execute("select student_id, surname, source_line from files.df_8865 order by 3").fetchall() == [
        (k, s, n) for n, (k, s) in enumerate(people, start=1)
    ]
    # the same names in either spelling undo it: the CLI's --table DF_8865 is the table df_8865
    (files_env["drop"] / "STUDENT.DAT").write_text("".join(f"{k:<10}{s:<30}\r\n" for k, s in people[:1]))
    load(files_env, "r2")
    assert rollback("DF_8865", run_id="undo").rows == 3


def test_a_layout_of_300_columns_loads_end_to_end(files_env, conn):
    kinds = [("str", 8, {}), ("int", 8, {}), ("decimal", 8, {"implied_decimals": 2}), ("date", 8, {"format": "%Y%m%d"})]
    columns, mapping, fields, expected = [], {}, [], []
    for n in range(300):
        kind, width, extra = kinds[n % 4]
        columns.append({"name": f"FIELD_{n:03d}", "start": 8 * n, "width": width, "type": kind, **extra})
        if n % 50 != 49:  # every 50th column is not mapped: not loaded
            mapping[f"FIELD_{n:03d}"] = f"field{n:03d}Value"
        fields.append({"str": f"v{n:<7}", "int": f"{n:>8}", "decimal": f"{n * 101:08d}", "date": "20261123"}[kind])
        if n % 50 != 49:
            value = {"str": f"v{n}", "int": n, "decimal": Decimal(n * 101) / 100, "date": dt.date(2026, 11, 23)}
            expected.append(value[kind])
    doc = {
        "primary_keys": {"WideTable": ["source_line"]},
        "file_layouts": {"WIDE.DAT": {"table_name": "WideTable", "columns": columns, "field_mapping": mapping}},
    }
    files_env["relationships"].write_text(json.dumps(doc))
    (files_env["drop"] / "WIDE.DAT").write_text(("".join(fields) + "\n") * 40)
    (result,) = load(files_env)
    assert (result.status, result.records, result.loaded, result.rejected) == ("loaded", 40, 40, 0)
    loaded = table_columns(conn, "wide_table")
    assert len(loaded) == 295  # 300 columns, 6 unmapped, source_line
    assert loaded[:5] == [("field000_value", "text"), ("field001_value", "bigint"), ("field002_value", "numeric"),
                          ("field003_value", "date"), ("field004_value", "text")]  # fmt: skip
    assert "field049_value" not in dict(loaded)
    assert primary_key(conn, "wide_table") == ["source_line"]
    rows = conn.execute("select * from files.wide_table order by source_line").fetchall()
    assert len(rows) == 40
    assert all(list(row[:-1]) == expected for row in rows)
    assert [row[-1] for row in rows] == list(range(1, 41))


def test_a_file_loaded_by_another_run_while_this_one_waited_for_its_lock_is_unchanged(files_env, conn, monkeypatch):
    """Found by the chaos suite: two runs at once both loaded the file (two ledger rows, a needless snapshot)."""
    students_file(files_env["drop"] / "students.txt", CLASS)
    data = (files_env["drop"] / "students.txt").read_bytes()
    load(files_env, "first")
    before = conn.execute("select xmin::text, * from files.students order by student_id").fetchall()
    (files_env["drop"] / "students.txt").write_bytes(data)
    # the second run checked for these bytes before the first committed, then waited for the table's lock
    monkeypatch.setattr("reliable_etl.files.load._already_loaded", lambda parsed, tables: False)

    (second,) = load(files_env, "second")

    assert second.status == "unchanged"
    assert conn.execute("select xmin::text, * from files.students order by student_id").fetchall() == before
    assert snapshots("students") == []
    ledger = conn.execute("select run_id, status from ops.file_loads order by id").fetchall()
    assert ledger == [("first", "loaded"), ("second", "unchanged")]
    assert not (files_env["drop"] / "students.txt").exists()


def test_an_earlier_nights_file_delivered_again_after_a_newer_one_loads(files_env, conn):
    """The no-op is for the same bytes as the table's LAST load, not any load (it used to skip this)."""
    for run_id, night in (("night1", CLASS[:3]), ("night2", CLASS[:4]), ("night1-again", CLASS[:3])):
        students_file(files_env["drop"] / "students.txt", night)
        (result,) = load(files_env, run_id)
    assert result.status == "loaded"
    assert [r[0] for r in rows(conn)] == [1, 2, 3]


def test_a_night_far_from_the_previous_one_is_reported_or_refused(files_env, conn, loaded_night, etl_env):
    """The row-count drift check: a warning by default (loaded, reported), an error refuses the file."""
    from reliable_etl.config import settings
    from reliable_etl.errors import AuditFailedError
    from reliable_etl.files.report import run_report
    from reliable_etl.files.tasks import load_one, report_run
    from reliable_etl.notify import item_lines

    path = students_file(files_env["drop"] / "students.txt", CLASS[:2])  # 2 students after 6: -67%
    assert load_one(str(path), run_id="night2")["status"] == "loaded"
    drift = "students: row_count_drift failed (warning): rows=2, previous_rows=6, tolerance=0.5"
    (result,) = results_for_run("night2")
    assert result.warnings == [drift]
    assert report_run(run_id="night2", started=None, found=[str(path)])["status"] == "warning"
    assert f"warning: {drift}" in item_lines(run_report("night2", "warning", [result]))[0]
    assert conn.execute(
        "select target, unit_key, passed, published from ops.check_results where run_id = 'night2'"
    ).fetchall() == [("files.students", "students.txt", False, True)]

    etl_env.setenv("ETL_FILES_DRIFT_SEVERITY", "error")
    settings.cache_clear()
    two = checksum(conn, "files", "students")
    students_file(path, [student(n, f"S{n}") for n in range(10, 40)])  # 30 after 2
    with pytest.raises(AuditFailedError, match=r"students.txt -> students: row_count_drift failed \(error\): rows=30"):
        load_file(path, load_relationships(files_env["relationships"]), run_id="night3")
    assert checksum(conn, "files", "students") == two  # nothing of it loaded
    assert len(snapshots("students")) == 1  # no snapshot taken for it either
    assert path.exists()  # not archived
    assert conn.execute("select status from ops.file_loads where run_id = 'night3'").fetchone() == ("refused",)
    assert conn.execute(
        "select passed, published, details->>'previous_rows' from ops.check_results where run_id = 'night3'"
    ).fetchall() == [(False, False, "2")]
    (refused,) = load(files_env, "night4")  # as the DAG's loads see it
    assert (refused.status, "row_count_drift failed (error)" in refused.error) == ("refused", True)
