"""Fixed-width layouts, declared in a ``relationships.json`` and checked before any file is read.

    {
      "primary_keys": {"cdnow_purchases": ["source_line"]},
      "file_to_table": {"CDNOW_master.txt": "cdnow_purchases"},
      "file_layouts": [
        {
          "filename": "CDNOW_master.txt",          # a name or a glob ("ach_*.txt")
          "table_name": "cdnow_purchases",
          "encoding": "utf-8",                      # or cp1252, latin-1, ascii
          "line_ending": "crlf",                    # crlf | lf | auto
          "header_lines": 1,
          "record_length": 26,                      # characters, line ending excluded
          "columns": [
            {"name": "customer_id", "start": 1, "width": 5, "type": "int", "required": true},
            {"name": "date", "start": 7, "width": 8, "type": "date", "format": "%Y%m%d"},
            {"name": "dollar_value", "start": 18, "width": 8, "type": "decimal"}
          ],
          "field_mapping": {"customer_id": "customer_id", "date": "purchase_date", ...}
        }
      ]
    }

``file_layouts`` is that list, or an object keyed by file name, as the system this bundle
replaces writes it: ``{"STUDENT.DAT": {"table_name": "DF_8865", "columns": [...], ...}}`` (the
key is the filename; a ``filename`` inside, if given, must be the same). Files that mix record
kinds need the list: each kind is a layout with the same ``filename`` and a ``record_type``
(``{"start": 0, "width": 1, "value": "6"}``); ``skip_record_types`` lists kinds that are read
past (headers, trailers). Positions are 0-based characters; a column without ``type`` is text;
``decimal`` takes ``implied_decimals`` (``00012345`` with 2 is 123.45). Only the columns in
``field_mapping`` (file column -> table column) are loaded; without it, every column is. Every
target table gets ``source_line``, the record's line number in its file, which a key may use.

**Names.** Every name (file column, table, table column) is ASCII letters, digits and ``_``, not
starting with a digit; anything else (quotes, semicolons, spaces, control characters, accents,
an empty name) is refused. File columns keep their spelling: they only label the file. A table
or table column name becomes its PostgreSQL identifier by snake_case folding, the case breaks of
dlt's default naming convention: ``DF_8865`` -> ``df_8865``, ``studentId`` -> ``student_id``,
``CASES_KEY`` -> ``cases_key``, ``HTTPServer`` -> ``http_server`` (underscores stay as written).
The same folding applies everywhere a table or column is named: ``table_name``,
``field_mapping``, ``primary_keys`` (a table in either spelling; a key column as its file
column, or its table column in either spelling), ``file_to_table``, ``etl files rollback
--table``. A folded name is at most 63 bytes; two names folding to one identifier, or a column
folding to ``source_line``, are errors naming both. Identifiers are then quoted wherever SQL is
composed; they are never pasted into SQL.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from reliable_etl.errors import BadInputError

TYPES = {"str": "text", "int": "bigint", "decimal": "numeric", "date": "date"}
ENCODINGS = {"utf-8", "utf8", "cp1252", "windows-1252", "latin-1", "latin1", "iso-8859-1", "ascii"}
LINE_ENDINGS = {"crlf", "lf", "auto"}
DATE_PARTS = {"%Y": 4, "%m": 2, "%d": 2, "%y": 2}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# dlt's snake_case breaks: HTTPServer -> HTTP_Server, studentId -> student_Id
CASE_BREAKS = (re.compile(r"([^_])([A-Z][a-z]+)"), re.compile(r"([a-z0-9])([A-Z])"))
MAX_IDENTIFIER = 63  # bytes: PostgreSQL's NAMEDATALEN - 1
SOURCE_LINE = "source_line"


class LayoutError(BadInputError):
    """A relationships.json that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Column:
    name: str
    start: int
    width: int
    type: str = "str"
    format: str | None = None  # dates: strptime-style, %Y %m %d %y and literal characters
    implied_decimals: int = 0
    required: bool = False

    @property
    def end(self) -> int:
        return self.start + self.width

    @property
    def sql_type(self) -> str:
        return TYPES[self.type]


@dataclass(frozen=True)
class RecordType:
    start: int
    width: int
    value: str


@dataclass(frozen=True)
class FileLayout:
    filename: str
    table_name: str
    columns: tuple[Column, ...]
    field_mapping: dict[str, str]
    primary_key: tuple[str, ...] = ()
    encoding: str = "utf-8"
    line_ending: str = "auto"
    header_lines: int = 0
    record_length: int = 0
    record_type: RecordType | None = None
    skip_record_types: tuple[str, ...] = ()
    where: str = field(default="", compare=False)  # "relationships.json: file_layouts[2] (X.txt)"

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatchcase(file_name, self.filename)

    @property
    def target_columns(self) -> list[tuple[str, Column]]:
        """(target column, file column) in file order, the loaded ones only."""
        return [(self.field_mapping[c.name], c) for c in self.columns if c.name in self.field_mapping]


@dataclass(frozen=True)
class Relationships:
    path: Path
    layouts: tuple[FileLayout, ...]

    def layouts_for(self, file_name: str) -> list[FileLayout]:
        """The layouts of one file: one, or one per record kind."""
        return [layout for layout in self.layouts if layout.matches(file_name)]

    @property
    def tables(self) -> list[str]:
        return sorted({layout.table_name for layout in self.layouts})


def load_relationships(path: str | Path) -> Relationships:
    """Read and check a relationships.json; LayoutError names the file and the field at fault."""
    path = Path(path)
    name = path.name
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
    except FileNotFoundError:
        raise LayoutError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayoutError(f"{path}: not valid JSON: {exc}") from None
    except ValueError as exc:  # a key given twice
        raise LayoutError(f"{name}: {exc}") from None
    if not isinstance(doc, dict):
        raise LayoutError(f"{name}: must be a JSON object")
    entries = _entries(doc.get("file_layouts"), name)
    primary_keys = _primary_keys(doc.get("primary_keys"), name)
    file_to_table = doc.get("file_to_table") or {}
    if not isinstance(file_to_table, dict):
        raise LayoutError(f"{name}: 'file_to_table' must be an object: file name -> table")
    layouts = tuple(_layout(raw, primary_keys, where, key) for where, key, raw in entries)
    _check_table_spellings(entries, layouts, name)
    for file_name, table in file_to_table.items():
        folded = identifier(table, f"{name}: file_to_table[{file_name!r}]")
        declared = {layout.table_name for layout in layouts if layout.matches(file_name)}
        if not declared:
            raise LayoutError(f"{name}: file_to_table: no layout for file {file_name!r}")
        if folded not in declared:
            raise LayoutError(
                f"{name}: file_to_table maps {file_name!r} to {folded!r}, its layout to {sorted(declared)}"
            )
    for table, (spelled, _) in primary_keys.items():
        if not any(layout.table_name == table for layout in layouts):
            raise LayoutError(f"{name}: primary_keys: no layout loads table {_spelling(spelled, table)}")
    _check_record_kinds(layouts, name)
    _check_shared_tables(layouts, name)
    return Relationships(path, layouts)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object; a key given twice would silently drop the first one's value."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"the key {next(k for k in keys if keys.count(k) > 1)!r} appears twice in one object")
    return dict(pairs)


def _entries(raw: object, name: str) -> list[tuple[str, str | None, object]]:
    """(where, key, layout) of each layout: the list form, or the object form keyed by file name."""
    if isinstance(raw, list) and raw:
        return [(f"{name}: file_layouts[{n}]", None, layout) for n, layout in enumerate(raw)]
    if isinstance(raw, dict) and raw:
        return [(f"{name}: file_layouts[{key!r}]", key, layout) for key, layout in raw.items()]
    raise LayoutError(f"{name}: needs 'file_layouts': a non-empty list, or an object keyed by file name")


def _primary_keys(raw: object, name: str) -> dict[str, tuple[str, object]]:
    """table (folded) -> (the table as primary_keys spells it, its key columns)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise LayoutError(f"{name}: 'primary_keys' must be an object: table -> list of columns")
    keys: dict[str, tuple[str, object]] = {}
    for table, columns in raw.items():
        folded = identifier(table, f"{name}: primary_keys[{table!r}]")
        if folded in keys:
            raise LayoutError(f"{name}: primary_keys: {keys[folded][0]!r} and {table!r} both name table {folded!r}")
        keys[folded] = (table, columns)
    return keys


def _layout(raw: object, primary_keys: dict, where: str, key: str | None) -> FileLayout:
    if not isinstance(raw, dict):
        several = " (the list form of 'file_layouts' takes several layouts of one file, one per record kind)"
        raise LayoutError(f"{where}: must be an object{several if key is not None else ''}")
    filename = raw.get("filename", key)
    if key is not None and filename != key:
        raise LayoutError(f"{where}: its filename {filename!r} differs from its key {key!r}")
    if not isinstance(filename, str) or not filename or "/" in filename:
        raise LayoutError(f"{where}: 'filename' must be a file name (or a glob), without a directory")
    if key is None:
        where = f"{where} ({filename})"
    table = identifier(raw.get("table_name"), f"{where}: table_name")
    columns = tuple(_column(c, f"{where}: columns[{n}]") for n, c in enumerate(raw.get("columns") or []))
    if not columns:
        raise LayoutError(f"{where}: 'columns' must list at least one column")
    _check_columns(columns, where)
    mapping = _mapping(raw.get("field_mapping"), columns, where)
    record_type = _record_type(raw.get("record_type"), where)
    covered = max([c.end for c in columns] + ([record_type.start + record_type.width] if record_type else []))
    record_length = raw.get("record_length", covered)
    if not isinstance(record_length, int) or record_length < covered:
        raise LayoutError(
            f"{where}: record_length {record_length!r} is shorter than the columns, which end at {covered}"
        )
    skip = raw.get("skip_record_types") or []
    if skip and record_type is None:
        raise LayoutError(f"{where}: skip_record_types needs a record_type")
    return FileLayout(
        filename=filename,
        table_name=table,
        columns=columns,
        field_mapping=mapping,
        primary_key=_primary_key(primary_keys.get(table), table, mapping, where),
        record_length=record_length,
        record_type=record_type,
        skip_record_types=tuple(str(s) for s in skip),
        where=where,
        **_reading(raw, where),
    )


def _mapping(raw: object, columns: tuple[Column, ...], where: str) -> dict[str, str]:
    """file column -> table column (folded); by default every column under its own name."""
    mapping = {c.name: c.name for c in columns} if raw is None else raw
    if not isinstance(mapping, dict) or not mapping:
        raise LayoutError(f"{where}: 'field_mapping' must map file columns to table columns")
    names = {c.name for c in columns}
    folded: dict[str, str] = {}
    for source, target in mapping.items():
        if source not in names:
            raise LayoutError(f"{where}: field_mapping: {source!r} is not a column of the layout")
        at = f"{where}: field_mapping[{source!r}]" if raw is not None else f"{where}: column {source!r}"
        column = identifier(target, at)
        if column == SOURCE_LINE:
            said = repr(target) if target == column else f"{target!r} becomes {column!r}, which"
            raise LayoutError(f"{at}: {said} is reserved (the record's line number)")
        first = next((s for s, c in folded.items() if c == column), None)
        if first is not None:
            raise LayoutError(
                f"{where}: field_mapping: {first!r} -> {mapping[first]!r} and {source!r} -> {target!r} "
                f"both become column {column!r}"
            )
        folded[source] = column
    return folded


def _primary_key(entry: tuple[str, object] | None, table: str, mapping: dict[str, str], where: str) -> tuple[str, ...]:
    """The key's table columns; each named by its file column, or its table column in either spelling."""
    if entry is None:
        return ()
    spelled, key = entry
    at = f"{where}: primary_keys[{spelled!r}]"
    key = key or []
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise LayoutError(f"{at} must be a list of column names")
    targets = {target: source for source, target in mapping.items()}
    resolved: dict[str, str] = {}  # table column -> the name the key gave
    for column in key:
        folded = _folded_or_none(column)
        if column in mapping:
            target = mapping[column]
            if folded in targets and folded != target:
                raise LayoutError(
                    f"{at}: {column!r} is ambiguous: the file column {column!r} loads as {target!r}, "
                    f"and {folded!r} is the column of {targets[folded]!r}"
                )
        elif folded == SOURCE_LINE or folded in targets:
            target = folded
        else:
            raise LayoutError(f"{at}: primary key column {column!r} of {table!r} is not a mapped column")
        if target in resolved:
            raise LayoutError(f"{at}: {resolved[target]!r} and {column!r} are both column {target!r}")
        resolved[target] = column
    return tuple(resolved)


def _reading(raw: dict, where: str) -> dict:
    """How the file's bytes become lines: encoding, line ending, header lines."""
    encoding = str(raw.get("encoding", "utf-8")).lower()
    if encoding not in ENCODINGS:
        raise LayoutError(f"{where}: encoding {encoding!r} is not one of {sorted(ENCODINGS)}")
    line_ending = str(raw.get("line_ending", "auto")).lower()
    if line_ending not in LINE_ENDINGS:
        raise LayoutError(f"{where}: line_ending {line_ending!r} is not one of {sorted(LINE_ENDINGS)}")
    header_lines = raw.get("header_lines", 0)
    if not isinstance(header_lines, int) or isinstance(header_lines, bool) or header_lines < 0:
        raise LayoutError(f"{where}: header_lines must be a whole number >= 0")
    return {"encoding": encoding, "line_ending": line_ending, "header_lines": header_lines}


def _column(raw: object, where: str) -> Column:
    if not isinstance(raw, dict):
        raise LayoutError(f"{where}: must be an object")
    name = _name(raw.get("name"), f"{where}: name")
    where = f"{where} ({name})"
    start, width = raw.get("start"), raw.get("width")
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise LayoutError(f"{where}: start must be a whole number >= 0 (0-based), not {start!r}")
    if not isinstance(width, int) or isinstance(width, bool) or width <= 0:
        raise LayoutError(f"{where}: width must be a whole number > 0, not {width!r}")
    kind = raw.get("type", "str")
    if kind not in TYPES:
        raise LayoutError(f"{where}: type {kind!r} is not one of {sorted(TYPES)}")
    implied = raw.get("implied_decimals", 0)
    if not isinstance(implied, int) or implied < 0 or (implied and kind != "decimal") or implied >= width:
        raise LayoutError(f"{where}: implied_decimals must be 0..width-1, on a decimal column only")
    fmt = raw.get("format")
    if kind == "date":
        fmt = fmt or "%Y%m%d"
        if date_format_width(fmt, where) != width:
            raise LayoutError(
                f"{where}: date format {fmt!r} is {date_format_width(fmt, where)} characters, width {width}"
            )
    elif fmt is not None:
        raise LayoutError(f"{where}: 'format' applies to date columns only")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise LayoutError(f"{where}: required must be true or false")
    return Column(name, start, width, kind, fmt, implied, required)


def date_format_width(fmt: str, where: str = "") -> int:
    """Characters a date format spans; LayoutError unless it has exactly one of each of year, month, day."""
    parts = re.findall(r"%.|[^%]", fmt)
    directives = [p for p in parts if p.startswith("%")]
    unknown = [d for d in directives if d not in DATE_PARTS]
    years = sum(d in {"%Y", "%y"} for d in directives)
    if unknown or years != 1 or directives.count("%m") != 1 or directives.count("%d") != 1:
        raise LayoutError(f"{where}: date format {fmt!r} needs one year (%Y or %y), one %m and one %d")
    return sum(DATE_PARTS.get(p, 1) for p in parts)


def _record_type(raw: object, where: str) -> RecordType | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise LayoutError(f"{where}: record_type must be an object with start, width and value")
    start, width, value = raw.get("start"), raw.get("width"), raw.get("value")
    if not isinstance(start, int) or start < 0 or not isinstance(width, int) or width <= 0:
        raise LayoutError(f"{where}: record_type needs start >= 0 and width > 0")
    if not isinstance(value, str) or len(value) != width:
        raise LayoutError(f"{where}: record_type value must be a string of {width} characters")
    return RecordType(start, width, value)


def _check_columns(columns: tuple[Column, ...], where: str) -> None:
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise LayoutError(f"{where}: two columns are named {next(n for n in names if names.count(n) > 1)!r}")
    ordered = sorted(columns, key=lambda c: c.start)
    for left, right in itertools.pairwise(ordered):
        if right.start < left.end:
            raise LayoutError(
                f"{where}: columns {left.name!r} ({left.start}-{left.end - 1}) and "
                f"{right.name!r} ({right.start}-{right.end - 1}) overlap"
            )


def _check_record_kinds(layouts: tuple[FileLayout, ...], name: str) -> None:
    """Layouts sharing a file name are record kinds: same record_type field, distinct values."""
    by_file: dict[str, list[FileLayout]] = {}
    for layout in layouts:
        by_file.setdefault(layout.filename, []).append(layout)
    for file_name, group in by_file.items():
        if len(group) == 1:
            continue
        kinds = [g.record_type for g in group]
        if any(k is None for k in kinds):
            raise LayoutError(f"{name}: {file_name!r} has {len(group)} layouts: each needs a record_type")
        if len({(k.start, k.width) for k in kinds}) != 1:  # type: ignore[union-attr]
            raise LayoutError(f"{name}: the record_type of {file_name!r} sits at different positions")
        values = [k.value for k in kinds]  # type: ignore[union-attr]
        if len(set(values)) != len(values):
            raise LayoutError(f"{name}: {file_name!r} declares record type {values[0]!r} twice")
        if {g.encoding for g in group} != {group[0].encoding} or {g.header_lines for g in group} != {
            group[0].header_lines
        }:
            raise LayoutError(f"{name}: the record kinds of {file_name!r} disagree on encoding or header_lines")


def _check_shared_tables(layouts: tuple[FileLayout, ...], name: str) -> None:
    """A table loaded from several layouts must get the same columns from each."""
    columns: dict[str, list[tuple[str, str]]] = {}
    for layout in layouts:
        shape = [(target, column.sql_type) for target, column in layout.target_columns]
        if columns.setdefault(layout.table_name, shape) != shape:
            raise LayoutError(f"{name}: {layout.where} loads {layout.table_name!r} with other columns than before")


def _check_table_spellings(entries: list, layouts: tuple[FileLayout, ...], name: str) -> None:
    """A table is spelled one way: 'DF_8865' and 'df_8865' in two layouts are an error naming both."""
    first: dict[str, tuple[str, str]] = {}  # table -> (where, as written)
    for (_, _, raw), layout in zip(entries, layouts, strict=True):
        where, spelled = first.setdefault(layout.table_name, (layout.where, raw["table_name"]))
        if spelled != raw["table_name"]:
            raise LayoutError(
                f"{layout.where}: table_name {raw['table_name']!r} and {where.removeprefix(f'{name}: ')}: "
                f"table_name {spelled!r} both become table {layout.table_name!r}"
            )


def _spelling(written: str, folded: str) -> str:
    return repr(folded) if written == folded else f"{folded!r} ({written!r} folded)"


def _name(value: object, where: str) -> str:
    """A name as written: ASCII letters, digits and _, not starting with a digit."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise LayoutError(
            f"{where}: {value!r} is not a safe name (ASCII letters, digits and _, not starting with a digit)"
        )
    return value


def identifier(value: object, where: str) -> str:
    """The PostgreSQL identifier of a table or column name: folded to snake_case, at most 63 bytes.

    ``DF_8865`` -> ``df_8865``, ``studentId`` -> ``student_id``, ``HTTPServer`` -> ``http_server``.
    """
    folded = _name(value, where)
    for pattern in CASE_BREAKS:
        folded = pattern.sub(r"\1_\2", folded)
    folded = folded.lower()
    if len(folded.encode()) > MAX_IDENTIFIER:
        raise LayoutError(
            f"{where}: {value!r} becomes {folded!r} ({len(folded.encode())} bytes): at most {MAX_IDENTIFIER}"
        )
    return folded


def _folded_or_none(value: str) -> str | None:
    try:
        return identifier(value, "")
    except LayoutError:
        return None
