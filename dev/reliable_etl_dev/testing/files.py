"""Helpers of the fixed-width files tests: the students layout, its lines and files.

``STUDENTS`` is the relationships document the ``files_env`` fixture (tests/conftest.py) writes;
``student`` formats one record of it, ``students_file`` writes an export, ``CLASS`` is six students.
"""

from __future__ import annotations

from pathlib import Path

STUDENTS = {
    "primary_keys": {"students": ["student_id"]},
    "file_to_table": {"students.txt": "students"},
    "file_layouts": [
        {
            "filename": "students.txt",
            "table_name": "students",
            "encoding": "cp1252",
            "line_ending": "lf",
            "header_lines": 1,
            "record_length": 40,
            "columns": [
                {"name": "student_id", "start": 0, "width": 6, "type": "int", "required": True},
                {"name": "name", "start": 6, "width": 16, "required": True},
                {"name": "birth", "start": 22, "width": 10, "type": "date", "format": "%m/%d/%Y"},
                {"name": "gpa", "start": 32, "width": 4, "type": "decimal", "implied_decimals": 2},
                {"name": "grade", "start": 36, "width": 4, "type": "int"},
            ],
            "field_mapping": {"student_id": "student_id", "name": "name", "birth": "birth_date", "gpa": "gpa"},
        }
    ],
}


def student(sid: int, name: str, birth: str = "02/29/2008", gpa: str = "0350", grade: str = "  10") -> str:
    return f"{sid:06d}{name:<16}{birth:<10}{gpa:>4}{grade:>4}"


def students_file(path: Path, rows: list[str], *, encoding: str = "cp1252", ending: str = "\n") -> Path:
    path.write_bytes(("HEADER students export\n" + "".join(r + ending for r in rows)).encode(encoding))
    return path


CLASS = [student(n, name) for n, name in enumerate(["Zoë", "Ana", "Björn", "Chloé", "Dan", "Eve"], start=1)]
