"""The fixed-width parser against an independent, simple reference parser, its file-level
errors, and the real CDNOW file. No database.

The reference reads one line at a time with int(), Decimal and datetime.strptime; the files
are generated at random (seeded) with valid and broken values of every type, so that both
the parser's vectorised path and its line-by-line path are compared with it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import random
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from reliable_etl.errors import BadInputError
from reliable_etl.files import parser
from reliable_etl.files.layouts import Column, FileLayout, LayoutError, load_relationships
from reliable_etl.files.parser import ParsedFile, parse_file
from reliable_etl_dev.testing import REAL_CDNOW

CDNOW_COLUMNS = [
    {"name": "customer_id", "start": 1, "width": 5, "type": "int", "required": True},
    {"name": "date", "start": 7, "width": 8, "type": "date", "format": "%Y%m%d"},
    {"name": "number_of_cds", "start": 15, "width": 3, "type": "int"},
    {"name": "dollar_value", "start": 18, "width": 8, "type": "decimal"},
]
CDNOW = {
    "filename": "CDNOW_master.txt",
    "table_name": "cdnow_purchases",
    "encoding": "utf-8",
    "line_ending": "crlf",
    "header_lines": 1,
    "record_length": 26,
    "columns": CDNOW_COLUMNS,
}


def layouts_of(tmp_path: Path, *raw_layouts: dict) -> list[FileLayout]:
    """Layouts as the pipeline gets them: through a relationships.json."""
    config = tmp_path / "relationships.json"
    config.write_text(json.dumps({"file_layouts": list(raw_layouts)}))
    return load_relationships(config).layouts_for(raw_layouts[0]["filename"])


# --- the reference parser ----------------------------------------------------------------

CODECS = {"utf-8": "utf-8", "cp1252": "cp1252", "latin-1": "latin-1", "ascii": "ascii"}


def reference_parse(data: bytes, layouts: list[FileLayout]) -> tuple[int, list[list[tuple]], list[tuple]]:
    """(records, rows per layout, rejects as (line, raw, reason)), one line at a time."""
    first = layouts[0]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
        last_terminated = True
    else:
        last_terminated = False
    declared = {layout.record_type.value: n for n, layout in enumerate(layouts) if layout.record_type}
    skipped = {value for layout in layouts for value in layout.skip_record_types}
    kind_at = first.record_type
    records, rows, rejects = 0, [[] for _ in layouts], []
    for index in range(first.header_lines, len(lines)):
        number = index + 1
        terminated = index < len(lines) - 1 or last_terminated
        text = lines[index].decode(CODECS[first.encoding])
        missing_cr = False
        if first.line_ending != "lf" and text.endswith("\r"):
            text = text[:-1]
        elif first.line_ending == "crlf" and terminated:
            missing_cr = True
        kind = None
        if kind_at and len(text) >= kind_at.start + kind_at.width:
            kind = text[kind_at.start : kind_at.start + kind_at.width]
            if kind not in declared and kind in skipped:
                continue
        records += 1

        def reject(reason: str, number: int = number, text: str = text) -> None:
            rejects.append((number, text[:1000], reason))

        if missing_cr:
            reject("line ends in LF, the layout says CRLF")
            continue
        layout = first
        if kind_at:
            if kind is None:
                layout = None
            elif kind not in declared:
                reject(f"record type {kind!r} is not declared")
                continue
            else:
                layout = layouts[declared[kind]]
        needed = layout.record_length if layout else min(lay.record_length for lay in layouts)
        if len(text) != needed:
            prefix = "truncated last line: " if not terminated and len(text) < needed else ""
            reject(f"{prefix}{len(text)} characters, the layout needs {needed}")
            continue
        values, reason = {}, None
        for column in layout.columns:
            field = text[column.start : column.end]
            try:
                values[column.name] = reference_value(column, field)
            except ValueError as exc:
                reason = f"{column.name}: {exc}"
                break
        if reason:
            reject(reason)
        else:
            target = [normalise(column, values[column.name]) for _, column in layout.target_columns]
            rows[layouts.index(layout)].append((*target, number))
    return records, rows, rejects


def reference_value(column: Column, field: str) -> str | Decimal | None:
    value = field.strip(" ")
    if not value:
        if column.required:
            raise ValueError("required, but empty")
        return None
    if column.type == "str":
        if "\x00" in value:
            raise ValueError("contains a NUL byte")
        return value
    if column.type == "int":
        if not set(value) <= set("+-0123456789"):
            raise ValueError(f"{value!r} is not a whole number")
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a whole number") from None
        if not -(2**63) <= number < 2**63:
            raise ValueError(f"{value!r} is out of range for bigint")
        return value
    if column.type == "decimal":
        allowed = "+-0123456789" if column.implied_decimals else "+-.0123456789"
        try:
            if not set(value) <= set(allowed):
                raise InvalidOperation
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal") from None
        return number.scaleb(-column.implied_decimals) if column.implied_decimals else value
    pattern = "".join(
        {"%Y": "[0-9]{4}", "%m": "[0-9]{2}", "%d": "[0-9]{2}", "%y": "[0-9]{2}"}.get(part, re.escape(part))
        for part in re.findall(r"%.|[^%]", column.format)
    )
    try:
        if not re.fullmatch(pattern, field):
            raise ValueError
        return dt.datetime.strptime(field, column.format).date().isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date ({column.format})") from None


def normalise(column: Column, value: str | Decimal | None) -> str | None:
    """Implied decimals compare as numbers (the parser keeps leading zeros: 00012.34)."""
    if value is not None and column.type == "decimal" and column.implied_decimals:
        return str(Decimal(value))
    return value


# --- reading the parser's COPY text -------------------------------------------------------

_UNESCAPE = {"\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


def copy_rows(parsed: ParsedFile) -> list[list[tuple]]:
    tables = []
    for table in parsed.tables:
        text = table.copy_data.decode("utf-8")
        assert text == "" or text.endswith("\n")
        rows = []
        for line in text.split("\n")[:-1]:
            fields = [None if f == "\\N" else re.sub(r"\\(.)", lambda m: _UNESCAPE[m[1]], f) for f in line.split("\t")]
            targets = [column for _, column in table.layout.target_columns]
            assert len(fields) == len(targets) + 1, line
            values = [normalise(column, value) for column, value in zip(targets, fields, strict=False)]
            rows.append((*values, int(fields[-1])))
        assert len(rows) == table.rows
        tables.append(rows)
    return tables


def assert_same_as_reference(path: Path, layouts: list[FileLayout]) -> ParsedFile:
    parsed = parse_file(path, layouts)
    records, rows, rejects = reference_parse(path.read_bytes(), layouts)
    assert [(r.line, r.raw, r.reason) for r in parsed.rejects] == rejects
    assert copy_rows(parsed) == rows
    assert parsed.records == records
    assert parsed.error_rate == (len(rejects) / records if records else 0)
    return parsed


# --- generated files ------------------------------------------------------------------------

TEXT = {
    "utf-8": "abcdefXYZ0123456789  -.,'\"/\\\t€éß日😀\r",
    "cp1252": "abcdefXYZ0123456789  -.,'\"/\\\t€éßŠ\r",
    "latin-1": "abcdefXYZ0123456789  -.,'\"/\\\téßÿ\r",
    "ascii": "abcdefXYZ0123456789  -.,'\"/\\\t\r",
}


def main_layout(encoding: str, line_ending: str, header_lines: int, **extra: object) -> dict:
    return {
        "filename": "data.txt",
        "table_name": "main_rows",
        "encoding": encoding,
        "line_ending": line_ending,
        "header_lines": header_lines,
        "columns": [
            {"name": "id", "start": 0, "width": 6, "type": "int", "required": True},
            {"name": "name", "start": 6, "width": 8},
            {"name": "code", "start": 14, "width": 3, "type": "str", "required": True},
            {"name": "amount", "start": 18, "width": 9, "type": "decimal"},
            {"name": "cents", "start": 27, "width": 7, "type": "decimal", "implied_decimals": 2},
            {"name": "day", "start": 34, "width": 8, "type": "date", "format": "%Y%m%d"},
            {"name": "us_day", "start": 42, "width": 10, "type": "date", "format": "%m/%d/%Y"},
            {"name": "short_day", "start": 52, "width": 6, "type": "date", "format": "%y%m%d", "required": True},
            {"name": "flag", "start": 59, "width": 2, "type": "int"},  # not loaded, still checked
        ],
        "field_mapping": {
            "id": "id",
            "name": "customer_name",
            "code": "code",
            "amount": "amount",
            "cents": "cents",
            "day": "day",
            "us_day": "us_day",
            "short_day": "short_day",
        },
        "record_length": 63,
        **extra,
    }


def kind_layouts(encoding: str, line_ending: str, header_lines: int) -> list[dict]:
    """Record kinds: D (main columns, shifted by one), E (a bigint and a name), H/T skipped."""
    detail = main_layout(encoding, line_ending, header_lines)
    for column in detail["columns"]:
        column["start"] += 1
    detail.update(record_length=64, record_type={"start": 0, "width": 1, "value": "D"}, skip_record_types=["H", "T"])
    extra = {
        "filename": "data.txt",
        "table_name": "extra_rows",
        "encoding": encoding,
        "line_ending": line_ending,
        "header_lines": header_lines,
        "record_type": {"start": 0, "width": 1, "value": "E"},
        "columns": [
            {"name": "big", "start": 1, "width": 20, "type": "int"},
            {"name": "label", "start": 22, "width": 6, "type": "str"},
            {"name": "price", "start": 28, "width": 6, "type": "decimal", "implied_decimals": 3},
        ],
        "record_length": 36,
    }
    return [detail, extra]


def fit(text: str, width: int, rng: random.Random) -> str:
    text = text[:width]
    return text.rjust(width) if rng.random() < 0.6 else text.ljust(width)


def gen_int(rng: random.Random, width: int, broken: bool, required: bool) -> str:
    if broken:
        bad = ["12a", "1 2", "--1", "+", "-", "5-", "1.5", "x", "1\t", "0x1", "١٢", " -3 -"]
        if width >= 19:
            bad += ["9223372036854775808", "-9223372036854775809", "99999999999999999999"]
        return " " * width if required and rng.random() < 0.2 else fit(rng.choice(bad), width, rng)
    roll = rng.random()
    if roll < 0.1 and not required:
        return " " * width
    if roll < 0.2:
        return str(rng.randint(0, 10 ** (width - 1))).zfill(width)[:width]
    if roll < 0.3:
        return fit("+" + str(rng.randint(0, 999)), width, rng)
    if width >= 19 and roll < 0.4:
        return fit(rng.choice(["9223372036854775807", "-9223372036854775808", "0000000000000000042"]), width, rng)
    return fit(str(rng.randint(-(10 ** (width - 2)), 10 ** (width - 1) - 1)), width, rng)


def gen_decimal(rng: random.Random, width: int, implied: int, broken: bool) -> str:
    if implied:
        if broken:
            return fit(rng.choice(["12.5", "1 2", "-", "+", "1e3", ".5"]), width, rng)
        return gen_int(rng, width, broken=False, required=False)
    if broken:
        return fit(rng.choice(["1.2.3", ".", "1,5", "1e5", "- 5", "NaN", "12-", "+-1", "1 .5"]), width, rng)
    if rng.random() < 0.1:
        return " " * width
    if rng.random() < 0.2:
        return fit(rng.choice([".5", "5.", "-.5", "+.25", "0.0", "-0", "007.10"]), width, rng)
    return fit(f"{rng.uniform(-999, 9999):.{rng.randint(0, 3)}f}", width, rng)


BROKEN_DATES = {
    "%Y%m%d": ["19971301", "19970229", "19000229", "20000230", "1997 101", "abcdefgh", "00000101", " 9970101"],
    "%m/%d/%Y": ["02/29/1900", "13/01/1997", "01-01-1997", "1/1/1997  ", "04/31/2001", "00/10/2001"],
    "%y%m%d": ["970229", "971301", "97 101", "000229x", "680230", "690100", "xx0101", "      "],
}


def gen_date(rng: random.Random, fmt: str, broken: bool, required: bool) -> str:
    width = len(dt.date(2000, 1, 1).strftime(fmt))
    if broken:
        text = rng.choice(BROKEN_DATES[fmt])[:width]
        return text if rng.random() < 0.9 else text[:3] + "\x00" + text[4:]
    if rng.random() < 0.1 and not required:
        return " " * width
    if rng.random() < 0.1:
        return dt.date(rng.choice([1996, 2000, 2024, 2068]), 2, 29).strftime(fmt)
    return (dt.date(1969, 1, 1) + dt.timedelta(days=rng.randint(0, 36500))).strftime(fmt)


def gen_str(rng: random.Random, width: int, encoding: str, broken: bool, required: bool) -> str:
    if broken:
        return " " * width if required else fit(rng.choice(["\x00", "a\x00b"]), width, rng)
    if rng.random() < 0.1 and not required:
        return " " * width
    pool = TEXT[encoding] if rng.random() < 0.15 else "abcdefghij XYZ"
    return fit("".join(rng.choice(pool) for _ in range(rng.randint(1, width))), width, rng)


def gen_record(rng: random.Random, layout: dict) -> str:
    """A record of the layout: valid values, or (often) one broken one."""
    chars = [" "] * layout["record_length"]
    if "record_type" in layout:
        chars[0] = layout["record_type"]["value"]
    broken = rng.randrange(len(layout["columns"])) if rng.random() < 0.3 else None
    for n, column in enumerate(layout["columns"]):
        kind, width, required = column.get("type", "str"), column["width"], column.get("required", False)
        if kind == "int":
            text = gen_int(rng, width, n == broken, required)
        elif kind == "decimal":
            text = gen_decimal(rng, width, column.get("implied_decimals", 0), n == broken)
        elif kind == "date":
            text = gen_date(rng, column["format"], n == broken, required)
        else:
            text = gen_str(rng, width, layout["encoding"], n == broken, required)
        assert len(text) == width, (column, text)
        chars[column["start"] : column["start"] + width] = text
    if rng.random() < 0.05:  # filler is never checked
        chars[-1] = rng.choice("x\\\t")
    return "".join(chars)


def gen_file(rng: random.Random, raw_layouts: list[dict], lines: int) -> bytes:
    first = raw_layouts[0]
    encoding, line_ending, header_lines = first["encoding"], first["line_ending"], first["header_lines"]
    eol = {"crlf": "\r\n", "lf": "\n", "auto": rng.choice(["\n", "\r\n"])}[line_ending]
    body = [rng.choice(["ID    NAME", "header é", "x" * 70]) for _ in range(header_lines)]
    kinds = len(raw_layouts) > 1
    for n in range(lines):
        layout = raw_layouts[0] if n == 0 or not kinds else rng.choice(raw_layouts)
        record = gen_record(rng, layout)
        if n > 0:  # the first record stays whole: a broken first record may look like a wrong layout
            roll = rng.random()
            if roll < 0.05:
                record = record[: rng.randint(0, len(record) - 1)]
            elif roll < 0.09:
                record += rng.choice(["x", "  ", "é"])
            elif kinds and roll < 0.13:
                record = rng.choice("HTZ") + record[1:] + rng.choice(["", "xyz", "\\\t"])
        body.append(record)
    text_lines = []
    for n, record in enumerate(body):
        ending = eol
        if rng.random() < 0.05 and n > header_lines:
            ending = "\n" if line_ending == "crlf" else rng.choice(["\n", "\r\n"])
        text_lines.append(record + ending)
    roll = rng.random()
    if roll < 0.3:  # no line ending after the last line, maybe cut short
        text_lines[-1] = text_lines[-1].rstrip("\n").removesuffix("\r")
        if roll < 0.15:
            text_lines[-1] = text_lines[-1][: rng.randint(1, len(text_lines[-1]))]
    return "".join(text_lines).encode(CODECS[encoding], errors="replace")  # "?" for what it cannot hold


@pytest.mark.parametrize("seed", range(40))
def test_same_as_reference_parser(seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    encoding = ["utf-8", "cp1252", "latin-1", "ascii"][seed % 4]
    line_ending = ["crlf", "lf", "auto"][seed % 3]
    header_lines = rng.choice([0, 1, 2])
    if seed % 2:
        raw_layouts = kind_layouts(encoding, line_ending, header_lines)
    else:
        raw_layouts = [main_layout(encoding, line_ending, header_lines)]
    if seed % 5 == 0:  # many small chunks in the vectorised path
        monkeypatch.setattr(parser, "CHUNK_BYTES", rng.choice([64, 200, 1000]))
    path = tmp_path / "data.txt"
    path.write_bytes(gen_file(rng, raw_layouts, lines=rng.randint(150, 500)))
    parsed = assert_same_as_reference(path, layouts_of(tmp_path, *raw_layouts))
    assert len(parsed.rejects) > 10  # both paths, and both outcomes, were compared
    assert sum(t.rows for t in parsed.tables) > parsed.records // 3


def test_clean_file_takes_only_the_vectorised_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    layouts = layouts_of(tmp_path, main_layout("utf-8", "crlf", 1))
    lines = ["header"]
    for n in range(3000):
        day = dt.date(2000, 1, 1) + dt.timedelta(days=n)
        lines.append(
            f"{n:>6}{'name' + str(n % 7):<8}{'ab':>3} {rng.uniform(-99, 999):>9.2f}{rng.randint(-999, 99999):>7}"
            f"{day:%Y%m%d}{day:%m/%d/%Y}{day:%y%m%d} {n % 10:>2}  "
        )
    path = tmp_path / "data.txt"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    monkeypatch.setattr(parser, "CHUNK_BYTES", 63 * 500)

    def one_by_one(*args: object) -> None:
        raise AssertionError("a plain valid line went through the line-by-line path")

    monkeypatch.setattr(parser._Rules, "parse", one_by_one)
    parsed = parse_file(path, layouts)
    assert parsed.records == parsed.tables[0].rows == 3000
    monkeypatch.undo()
    assert_same_as_reference(path, layouts)


# --- one rule at a time -------------------------------------------------------------------


def one_column(tmp_path: Path, column: dict, lines: list[str], line_ending: str = "lf") -> ParsedFile:
    width = column["width"]
    layout = {
        "filename": "data.txt",
        "table_name": "t",
        "line_ending": line_ending,
        "columns": [{"start": 0, **column}],
        "record_length": width,
    }
    path = tmp_path / "data.txt"
    path.write_bytes("".join(f"{line}\n" for line in lines).encode())
    return assert_same_as_reference(path, layouts_of(tmp_path, layout))


def values(parsed: ParsedFile) -> list:
    return [row[0] for row in copy_rows(parsed)[0]]


def reasons(parsed: ParsedFile) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in parsed.rejects]


def test_int_values(tmp_path: Path) -> None:
    parsed = one_column(
        tmp_path,
        {"name": "n", "width": 6, "type": "int"},
        ["    12", "-12   ", "000012", "  +7  ", "      ", "  12a ", "1 2   ", "   -  "],
    )
    assert values(parsed) == ["12", "-12", "000012", "+7", None]
    assert reasons(parsed) == [
        (6, "n: '12a' is not a whole number"),
        (7, "n: '1 2' is not a whole number"),
        (8, "n: '-' is not a whole number"),
    ]


def test_bigint_range(tmp_path: Path) -> None:
    parsed = one_column(
        tmp_path,
        {"name": "n", "width": 21, "type": "int"},
        [f"{v:>21}" for v in ("9223372036854775807", "-9223372036854775808", "9223372036854775808")]
        + ["000000000000000000001"],
    )
    assert values(parsed) == ["9223372036854775807", "-9223372036854775808", "000000000000000000001"]
    assert reasons(parsed) == [(3, "n: '9223372036854775808' is out of range for bigint")]


def test_decimal_values(tmp_path: Path) -> None:
    parsed = one_column(
        tmp_path,
        {"name": "d", "width": 7, "type": "decimal"},
        ["  12.50", "-0.5   ", "     .5", "     5.", "1.2.3  ", "      .", "1e5    "],
    )
    assert values(parsed) == ["12.50", "-0.5", ".5", "5."]
    assert reasons(parsed) == [
        (5, "d: '1.2.3' is not a decimal"),
        (6, "d: '.' is not a decimal"),
        (7, "d: '1e5' is not a decimal"),
    ]


def test_implied_decimals(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"0001234\n      5\n-     5\n    -12\n  12.50\n")
    layout = {
        "filename": "data.txt",
        "table_name": "t",
        "columns": [{"name": "d", "start": 0, "width": 7, "type": "decimal", "implied_decimals": 2}],
    }
    parsed = parse_file(path, layouts_of(tmp_path, layout))
    assert parsed.tables[0].copy_data == b"00012.34\t1\n0.05\t2\n-0.12\t4\n"
    assert reasons(parsed) == [(3, "d: '-     5' is not a decimal"), (5, "d: '12.50' is not a decimal")]


def test_dates(tmp_path: Path) -> None:
    parsed = one_column(
        tmp_path,
        {"name": "day", "width": 8, "type": "date", "format": "%Y%m%d"},
        ["20000229", "19000229", "19971301", "        ", "1997 101", "00000101"],
    )
    assert values(parsed) == ["2000-02-29", None]
    assert reasons(parsed) == [
        (2, "day: '19000229' is not a date (%Y%m%d)"),
        (3, "day: '19971301' is not a date (%Y%m%d)"),
        (5, "day: '1997 101' is not a date (%Y%m%d)"),
        (6, "day: '00000101' is not a date (%Y%m%d)"),
    ]
    parsed = one_column(
        tmp_path,
        {"name": "day", "width": 8, "type": "date", "format": "%d.%m.%y", "required": True},
        ["29.02.68", "01.01.69", "31.12.99", "        ", "01-01-99"],
    )
    assert values(parsed) == ["2068-02-29", "1969-01-01", "1999-12-31"]
    assert reasons(parsed) == [(4, "day: required, but empty"), (5, "day: '01-01-99' is not a date (%d.%m.%y)")]


def test_str_values_are_escaped_for_copy(tmp_path: Path) -> None:
    parsed = one_column(
        tmp_path,
        {"name": "s", "width": 6, "type": "str"},
        ["  a b ", "a\\b   ", "\ta    ", "é€日😀  ", "      ", "a\x00    ", "x\ry   "],
    )
    assert values(parsed) == ["a b", "a\\b", "\ta", "é€日😀", None, "x\ry"]
    assert b"a\\\\b\t2\n\\ta\t3\n" in parsed.tables[0].copy_data
    assert b"x\\ry\t7\n" in parsed.tables[0].copy_data
    assert reasons(parsed) == [(6, "s: contains a NUL byte")]


def test_line_lengths_and_endings(tmp_path: Path) -> None:
    column = {"name": "s", "start": 0, "width": 4, "type": "str"}
    layout = {"filename": "data.txt", "table_name": "t", "columns": [column], "record_length": 4}
    crlf = layouts_of(tmp_path, {**layout, "line_ending": "crlf"})
    path = tmp_path / "data.txt"
    path.write_bytes(b"abcd\r\nabc\r\nabcde\r\nabcd\nab")
    parsed = assert_same_as_reference(path, crlf)
    assert reasons(parsed) == [
        (2, "3 characters, the layout needs 4"),
        (3, "5 characters, the layout needs 4"),
        (4, "line ends in LF, the layout says CRLF"),
        (5, "truncated last line: 2 characters, the layout needs 4"),
    ]
    path.write_bytes(b"abcd\r\nabcd\nabcd")  # a whole last line without a line ending is a record
    parsed = assert_same_as_reference(path, layouts_of(tmp_path, {**layout, "line_ending": "auto"}))
    assert parsed.records == parsed.tables[0].rows == 3
    parsed = assert_same_as_reference(path, layouts_of(tmp_path, {**layout, "line_ending": "lf"}))
    assert reasons(parsed) == [(1, "5 characters, the layout needs 4")]
    assert parsed.rejects[0].raw == "abcd\r"


def test_record_kinds(tmp_path: Path) -> None:
    base = {"filename": "data.txt", "table_name": "t", "skip_record_types": ["H", "T"], "record_length": 5}
    layouts = layouts_of(
        tmp_path,
        {
            **base,
            "record_type": {"start": 0, "width": 1, "value": "A"},
            "columns": [{"name": "a", "start": 1, "width": 4}],
        },
        {
            **base,
            "table_name": "u",
            "record_type": {"start": 0, "width": 1, "value": "B"},
            "columns": [{"name": "b", "start": 1, "width": 4, "type": "int"}],
        },
    )
    path = tmp_path / "data.txt"
    path.write_bytes(b"H header of any length\nAxyz \nB  12\nZ1234\nBabcd\n\nT9\n")
    parsed = assert_same_as_reference(path, layouts)
    assert parsed.records == 5
    assert [t.copy_data for t in parsed.tables] == [b"xyz\t2\n", b"12\t3\n"]
    assert reasons(parsed) == [
        (4, "record type 'Z' is not declared"),
        (5, "b: 'abcd' is not a whole number"),
        (6, "0 characters, the layout needs 5"),
    ]


def test_record_kinds_of_other_lengths_in_a_file_with_other_line_endings(tmp_path: Path) -> None:
    base = {"filename": "data.txt", "table_name": "t", "line_ending": "lf"}
    layouts = layouts_of(
        tmp_path,
        {
            **base,
            "record_type": {"start": 0, "width": 1, "value": "A"},
            "columns": [{"name": "a", "start": 1, "width": 4}],
        },
        {
            **base,
            "table_name": "u",
            "record_type": {"start": 0, "width": 1, "value": "B"},
            "columns": [{"name": "b", "start": 1, "width": 2}],
        },
    )
    path = tmp_path / "data.txt"
    path.write_bytes(b"Axyzw\r\nBxy\r\nBxy\r\nAabcd\r\n")
    with pytest.raises(BadInputError, match=r"records are 6 characters, the layout says 5: wrong layout"):
        parse_file(path, layouts)
    path.write_bytes(b"Axyzw\nBxy\r\nBxy\nAabcd\n")  # one line too long: a reject
    assert reasons(parse_file(path, layouts)) == [(2, "4 characters, the layout needs 3")]


def test_record_kinds_must_agree(tmp_path: Path) -> None:
    kind = {"filename": "data.txt", "table_name": "t", "columns": [{"name": "a", "start": 1, "width": 4}]}
    layouts = layouts_of(
        tmp_path,
        {**kind, "record_type": {"start": 0, "width": 1, "value": "A"}},
        {**kind, "record_type": {"start": 0, "width": 1, "value": "B"}, "line_ending": "crlf"},
    )
    with pytest.raises(LayoutError, match="disagree on encoding, line_ending"):
        parse_file(tmp_path / "data.txt", layouts)


def test_reject_raw_is_cut(tmp_path: Path) -> None:
    layout = {"filename": "data.txt", "table_name": "t", "columns": [{"name": "s", "start": 0, "width": 4}]}
    path = tmp_path / "data.txt"
    path.write_bytes(b"abcd\n" + b"x" * 5000 + b"\n")
    parsed = parse_file(path, layouts_of(tmp_path, layout))
    assert parsed.rejects[0].raw == "x" * 1000
    assert parsed.rejects[0].reason == "5000 characters, the layout needs 4"


def test_file_facts(tmp_path: Path) -> None:
    layout = {"filename": "data.txt", "table_name": "t", "columns": [{"name": "s", "start": 0, "width": 4}]}
    path = tmp_path / "data.txt"
    data = b"abcd\nab\n"
    path.write_bytes(data)
    parsed = parse_file(str(path), layouts_of(tmp_path, layout))
    assert parsed.path == path
    assert parsed.sha256 == hashlib.sha256(data).hexdigest()
    assert parsed.size_bytes == 8
    assert parsed.error_rate == 0.5


# --- file-level errors ------------------------------------------------------------------------


@pytest.fixture
def cdnow_layouts(tmp_path: Path) -> list[FileLayout]:
    return layouts_of(tmp_path, CDNOW)


CDNOW_LINE = b" 00001 19970101  1   11.77\r\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "{path}: the file is empty"),
        (b" customer_id  date\r\n", "{path}: no data lines after 1 header line"),
        (b" customer_id  date\r\n\r\n\r\n", "{path}: no data lines after 1 header line"),
        (
            b" customer_id  date\r\n" + CDNOW_LINE * 10 + b" 00001 1997\xff101  1   11.77\r\n",
            "{path}: line 12: byte 0xff at column 12 is not UTF-8 (the layout says utf-8)",
        ),
        (
            b"head\r\n" + b" 00001 19970101  1   11.77    \r\n" * 5,
            "{path}: records are 30 characters, the layout says 26: wrong layout for this file?",
        ),
    ],
)
def test_file_errors(tmp_path: Path, cdnow_layouts: list[FileLayout], content: bytes, message: str) -> None:
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as caught:
        parse_file(path, cdnow_layouts)
    assert str(caught.value) == message.format(path=path)


def test_missing_file(tmp_path: Path, cdnow_layouts: list[FileLayout]) -> None:
    with pytest.raises(BadInputError, match=r"CDNOW_master.txt: no such file$"):
        parse_file(tmp_path / "CDNOW_master.txt", cdnow_layouts)


def test_header_lines_plural(tmp_path: Path) -> None:
    layouts = layouts_of(tmp_path, {**CDNOW, "header_lines": 2})
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(b"a\r\nb\r\n")
    with pytest.raises(BadInputError, match=r"no data lines after 2 header lines$"):
        parse_file(path, layouts)


def test_lf_layout_on_a_crlf_file(tmp_path: Path) -> None:
    layouts = layouts_of(tmp_path, {**CDNOW, "line_ending": "lf"})
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(b"head\r\n" + CDNOW_LINE * 3)
    with pytest.raises(BadInputError, match=r"records are 27 characters, the layout says 26: wrong layout"):
        parse_file(path, layouts)


def test_a_broken_first_record_is_not_a_wrong_layout(tmp_path: Path, cdnow_layouts: list[FileLayout]) -> None:
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(b"head\r\n 00001 1997\r\n" + CDNOW_LINE * 3)
    assert reasons(parse_file(path, cdnow_layouts)) == [(2, "11 characters, the layout needs 26")]


@pytest.mark.parametrize(
    ("encoding", "line", "message"),
    [
        ("ascii", "abc\xe9".encode("latin-1"), "line 2: byte 0xe9 at column 4 is not ASCII (the layout says ascii)"),
        ("cp1252", b"ab\x81d", "line 2: byte 0x81 at column 3 is not cp1252 (the layout says cp1252)"),
        ("utf-8", "é\xe9cd".encode("latin-1"), "line 2: byte 0xe9 at column 1 is not UTF-8 (the layout says utf-8)"),
        ("utf8", "éx".encode() + b"\xc3", "line 2: byte 0xc3 at column 3 is not UTF-8 (the layout says utf8)"),
    ],
)
def test_encoding_errors(tmp_path: Path, encoding: str, line: bytes, message: str) -> None:
    layout = {
        "filename": "data.txt",
        "table_name": "t",
        "encoding": encoding,
        "columns": [{"name": "s", "start": 0, "width": 4}],
    }
    path = tmp_path / "data.txt"
    path.write_bytes(b"abcd\n" + line + b"\n")
    with pytest.raises(BadInputError) as caught:
        parse_file(path, layouts_of(tmp_path, layout))
    assert str(caught.value) == f"{path}: {message}"


def test_latin1_accepts_every_byte(tmp_path: Path) -> None:
    layout = {
        "filename": "data.txt",
        "table_name": "t",
        "encoding": "latin-1",
        "columns": [{"name": "s", "start": 0, "width": 4}],
    }
    path = tmp_path / "data.txt"
    path.write_bytes(b"ab\x81\xff\n")
    parsed = assert_same_as_reference(path, layouts_of(tmp_path, layout))
    assert parsed.tables[0].copy_data == "ab\x81ÿ\t1\n".encode()


# --- the real file ----------------------------------------------------------------------------


def test_real_cdnow_file(tmp_path: Path, cdnow_layouts: list[FileLayout]) -> None:
    if not REAL_CDNOW.exists():
        pytest.skip(f"{REAL_CDNOW} is not there")
    path = tmp_path / "CDNOW_master.txt"
    path.write_bytes(gzip.decompress(REAL_CDNOW.read_bytes()))
    parsed = parse_file(path, cdnow_layouts)
    assert (parsed.records, len(parsed.rejects), parsed.tables[0].rows) == (69_659, 0, 69_659)
    rows = parsed.tables[0].copy_data.split(b"\n")
    assert rows[0] == b"00001\t1997-01-01\t1\t11.77\t2"  # " 00001 19970101  1   11.77"
    assert rows[-2:] == [b"23570\t1997-03-26\t2\t42.96\t69660", b""]  # " 23570 19970326  2   42.96"
    assert parsed.size_bytes == path.stat().st_size
