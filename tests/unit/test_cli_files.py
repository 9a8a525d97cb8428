"""`etl files ...` in-process through reliable_etl.cli.main: load, status with health, rollback."""

from __future__ import annotations

import pytest

from reliable_etl.cli import main
from reliable_etl_dev.testing import table_fingerprint
from reliable_etl_dev.testing.files import CLASS, students_file


def etl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_load_status_and_rollback(files_env, conn, capsys):
    students_file(files_env["drop"] / "students.txt", CLASS[:4])
    code, out, _ = etl(capsys, "files", "load", "--dry-run")
    assert code == 0
    assert "students.txt -> students: would load, 4 records, 4 loaded, 0 rejected" in out

    code, out, _ = etl(capsys, "files", "load")
    assert code == 0
    assert "students.txt -> students: loaded, 4 records, 4 loaded, 0 rejected (0.00%)" in out
    assert "notification slack: skipped: no connection" in out
    assert "SUCCESS: 1 of 1 files loaded, 0 of 4 records rejected (0.00%)" in out
    first = table_fingerprint(conn, "files.students")

    students_file(files_env["drop"] / "students.txt", [*CLASS, CLASS[0][:20]])  # one short line: a warning
    code, out, _ = etl(capsys, "files", "load", "--reject-threshold", "0.5")
    assert code == 0
    assert "previous contents kept as students__" in out
    assert "WARNING: 1 of 1 files loaded, 1 of 7 records rejected (14.29%)" in out

    code, out, _ = etl(capsys, "files", "status")
    assert code == 0
    assert out.startswith("health: HEALTHY over the last 2 runs: 0% failed, average error rate 7.14%")
    assert "snapshots kept" in out

    code, out, _ = etl(capsys, "files", "rollback", "--table", "students")
    assert code == 0
    assert "students: restored students__" in out
    assert table_fingerprint(conn, "files.students")[:2] == first[:2]

    students_file(files_env["drop"] / "students.txt", ["garbage"])
    code, out, _ = etl(capsys, "files", "load")
    assert code == 1
    assert "students.txt -> students: failed" in out
    assert "ERROR" in out


def test_rollback_without_snapshots_is_a_clear_error(files_env, capsys):
    code, _, err = etl(capsys, "files", "rollback", "--table", "students")
    assert code == 2
    assert "students: no snapshot is kept" in err


@pytest.mark.parametrize(
    ("failed", "error_rate", "level"),
    [
        (0, 0.05, "healthy"),
        (1, 0.099, "healthy"),  # 10% failed runs, 9.9% errors
        (2, 0.0, "degraded"),  # 20% failed
        (0, 0.11, "degraded"),
        (5, 0.20, "degraded"),  # 50% / 20%: the upper edges are still degraded
        (6, 0.0, "unhealthy"),
        (0, 0.21, "unhealthy"),
    ],
)
def test_health_levels(failed: int, error_rate: float, level: str) -> None:
    from reliable_etl.files.report import health

    runs = [
        {
            "status": "failed" if n < failed else "success",
            "error_rate": error_rate,
            "duration_ms": 1000,
            "records_in": 10,
        }
        for n in range(10)
    ]
    assert health(runs).level == level
