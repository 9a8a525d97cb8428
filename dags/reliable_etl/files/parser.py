"""Fixed-width files -> PostgreSQL COPY text, every value checked against its layout.

Speed comes from numpy. The file becomes an array of characters: its bytes when it is pure
ASCII, else its code points (decoded once). Lines of the right length without a control
character or backslash are cut into character matrices, one per record kind, and validated
and written column by column for all lines at once. Every other line, and every line the
vectorised checks do not accept, goes through ``_Rules.parse``, one line at a time: it states
the rules in plain Python, writes every reject reason and the values that need COPY escapes.
Both paths give the same result for a line; the tests compare them with an independent
reference parser.

``copy_data`` is UTF-8 whatever the file's encoding, in COPY's text format: tab-separated,
``\\N`` for NULL, backslash, tab and CR escaped; the last column is ``source_line``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

from reliable_etl.errors import BadInputError
from reliable_etl.files.layouts import DATE_PARTS, Column, FileLayout, LayoutError

RAW_LIMIT = 1000  # characters of a rejected line kept in Reject.raw
CHUNK_BYTES = 4 << 20  # record characters validated at once, in bytes: bounds the temporary matrices

_CODECS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "cp1252": "cp1252",
    "windows-1252": "cp1252",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "ascii": "ascii",
}
_CODEC_NAMES = {"utf-8": "UTF-8", "cp1252": "cp1252", "latin-1": "latin-1", "ascii": "ASCII"}

SKIP, UNKNOWN, SHORT = -1, -2, -3  # line kinds besides a layout's index
BIGINT = 2**63
_INT = re.compile(r" *([+-]?[0-9]+) *")
_DECIMAL = re.compile(r" *([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)) *")
_IMPLIED = re.compile(r" *([+-]?)([0-9]+) *")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\r": "\\r", "\n": "\\n"})

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
_TAB, _NEWLINE, _DASH, _DOT = (np.array([[ord(c)]], dtype=np.uint8) for c in "\t\n-.")
_NULL = np.frombuffer(b"\\N", dtype=np.uint8)[:, None]
_TRUE = np.ones((1, 1), dtype=bool)


@dataclass(frozen=True)
class Reject:
    line: int  # 1-based line number in the file
    raw: str  # the line as decoded, without its line ending, at most RAW_LIMIT characters
    reason: str


@dataclass
class ParsedTable:
    layout: FileLayout
    copy_data: bytes  # COPY text, UTF-8: the target columns in order, then source_line
    rows: int


@dataclass
class ParsedFile:
    path: Path
    sha256: str
    size_bytes: int
    records: int  # data lines examined: after the header lines, skipped record kinds not counted
    tables: list[ParsedTable]  # one per layout, in layout order
    rejects: list[Reject]  # sorted by line

    @property
    def error_rate(self) -> float:
        return len(self.rejects) / self.records if self.records else 0.0


class _Invalid(ValueError):
    """A value that breaks its column's rule; the message is the reject reason."""


def parse_file(path: str | Path, layouts: list[FileLayout]) -> ParsedFile:
    """Parse and validate one fixed-width file against its layouts (one, or one per record kind).

    BadInputError, naming the file, when the file as a whole cannot be read with these layouts.
    """
    path = Path(path)
    rules = _Rules(layouts)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot be read: {exc.strerror}") from None
    if not data:
        raise BadInputError(f"{path}: the file is empty")
    lines = _Lines.split(path, data, rules)
    length = lines.end - lines.start
    kind = _kinds(lines, rules, length)
    counted = kind != SKIP
    _check_record_length(path, rules, kind, length, counted)

    lengths = np.array([layout.record_length for layout in layouts])
    fast = lines.plain & (kind >= 0) & (length == lengths[np.maximum(kind, 0)])
    tables = [_TableParts() for _ in layouts]
    failed = []
    for index, layout in enumerate(layouts):
        for chunk in _chunks(np.flatnonzero(fast & (kind == index)), layout.record_length * lines.chars.itemsize):
            ok, copy_data, row_lengths = _fast_rows(lines, chunk, layout, rules)
            tables[index].add_fast(copy_data, chunk[ok] + lines.first_number, row_lengths)
            failed.append(chunk[~ok])

    # The other lines, and those the vectorised checks did not accept, one by one: this path
    # writes every reject reason.
    rejects = []
    todo = np.union1d(np.flatnonzero(counted & ~fast), np.concatenate([np.empty(0, np.int64), *failed]))
    last = len(length) - 1
    for i, start, stop in zip(todo.tolist(), lines.start[todo].tolist(), lines.stop[todo].tolist(), strict=True):
        number = i + lines.first_number
        outcome = rules.parse(lines.text(start, stop), number, i < last or lines.ends_with_newline)
        if isinstance(outcome, Reject):
            rejects.append(outcome)
        elif outcome is not None:
            tables[outcome[0]].slow.append((number, outcome[1]))
    return ParsedFile(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        records=int(counted.sum()),
        tables=[
            ParsedTable(layout, parts.copy_data(), parts.rows) for layout, parts in zip(layouts, tables, strict=True)
        ],
        rejects=rejects,
    )


# --- the rules, one line at a time -----------------------------------------------------


class _Rules:
    """The parsing rules for one line, in plain Python: the reference for the vectorised path,
    and the path of every line it does not accept."""

    def __init__(self, layouts: list[FileLayout]) -> None:
        if not layouts:
            raise LayoutError("parse_file needs at least one layout")
        first = layouts[0]
        shared = {(lay.encoding, lay.line_ending, lay.header_lines) for lay in layouts}
        positions = {(lay.record_type.start, lay.record_type.width) if lay.record_type else None for lay in layouts}
        if len(shared) > 1 or len(positions) > 1 or (len(layouts) > 1 and None in positions):
            raise LayoutError(
                f"{first.filename}: its record kinds disagree on encoding, line_ending, header_lines or record_type"
            )
        self.layouts = layouts
        self.codec = _CODECS[first.encoding]
        self.line_ending = first.line_ending
        self.header_lines = first.header_lines
        self.record_type = first.record_type
        self.kinds = {lay.record_type.value: i for i, lay in enumerate(layouts) if lay.record_type}
        self.skip = {value for lay in layouts for value in lay.skip_record_types} - set(self.kinds)
        self.shortest = min(lay.record_length for lay in layouts)
        self.dates = {c.format: _date_parts(c.format) for lay in layouts for c in lay.columns if c.type == "date"}
        # per layout: (name, start, end, check) of every column, and which of them are loaded
        self.checks = [[(c.name, c.start, c.end, _check(c)) for c in lay.columns] for lay in layouts]
        self.loaded = [[lay.columns.index(c) for _, c in lay.target_columns] for lay in layouts]

    def kind(self, text: str) -> int:
        """The layout index of a line, or SKIP, UNKNOWN, SHORT (too short to hold its kind)."""
        if self.record_type is None:
            return 0
        end = self.record_type.start + self.record_type.width
        if len(text) < end:
            return SHORT
        value = text[self.record_type.start : end]
        if value in self.kinds:
            return self.kinds[value]
        return SKIP if value in self.skip else UNKNOWN

    def parse(self, line: str, number: int, terminated: bool) -> Reject | tuple[int, bytes] | None:
        """A reject, (layout index, COPY line), or None for a skipped record kind.

        ``line`` is without its LF; ``terminated`` says whether it had one.
        """
        missing_cr = False
        if self.line_ending != "lf" and line.endswith("\r"):
            line = line[:-1]
        elif self.line_ending == "crlf" and terminated:
            missing_cr = True
        kind = self.kind(line)
        if kind == SKIP:
            return None
        if missing_cr:
            return self._reject(number, line, "line ends in LF, the layout says CRLF")
        if kind == UNKNOWN:
            value = line[self.record_type.start : self.record_type.start + self.record_type.width]
            return self._reject(number, line, f"record type {value!r} is not declared")
        needed = self.layouts[kind].record_length if kind >= 0 else self.shortest
        if len(line) != needed:
            truncated = "truncated last line: " if not terminated and len(line) < needed else ""
            return self._reject(number, line, f"{truncated}{len(line)} characters, the layout needs {needed}")
        values = []
        for name, start, end, check in self.checks[kind]:
            try:
                values.append(check(line[start:end]))
            except _Invalid as exc:
                return self._reject(number, line, f"{name}: {exc}")
        row = "\t".join(r"\N" if values[i] is None else values[i] for i in self.loaded[kind])
        return kind, f"{row}\t{number}\n".encode()

    @staticmethod
    def _reject(number: int, line: str, reason: str) -> Reject:
        return Reject(number, line[:RAW_LIMIT], reason)


def _check(column: Column) -> Callable[[str], str | None]:
    """The check of one column: a field's COPY value (escaped), None for NULL, or _Invalid."""
    implied = column.implied_decimals
    pattern, what = _INT, "a whole number"
    if column.type == "decimal":
        pattern, what = _IMPLIED if implied else _DECIMAL, "a decimal"
    elif column.type == "date":
        pattern, what = _date_pattern(column.format), f"a date ({column.format})"

    def empty_or_invalid(field: str) -> None:
        value = field.strip(" ")
        if value:
            raise _Invalid(f"{value!r} is not {what}")
        if column.required:
            raise _Invalid("required, but empty")

    def check_str(field: str) -> str | None:
        value = field.strip(" ")
        if not value:
            return empty_or_invalid(field)
        if "\x00" in value:
            raise _Invalid("contains a NUL byte")
        return value.translate(_COPY_ESCAPES)

    def check_number(field: str) -> str | None:
        match = pattern.fullmatch(field)
        if not match:
            return empty_or_invalid(field)
        value = match[1]
        if column.type == "int" and len(value) > 18 and not -BIGINT <= int(value) < BIGINT:
            raise _Invalid(f"{value!r} is out of range for bigint")
        return value

    def check_implied(field: str) -> str | None:
        match = pattern.fullmatch(field)
        if not match:
            return empty_or_invalid(field)
        sign, digits = match[1], match[2]
        if len(digits) > implied:
            return f"{sign}{digits[:-implied]}.{digits[-implied:]}"
        return f"{sign}0.{digits.zfill(implied)}"

    def check_date(field: str) -> str | None:
        match = pattern.fullmatch(field)
        if not match:
            return empty_or_invalid(field)
        parts = match.groupdict()
        year = int(parts["Y"]) if "Y" in parts else int(parts["y"]) + (2000 if int(parts["y"]) < 69 else 1900)
        try:
            return dt.date(year, int(parts["m"]), int(parts["d"])).isoformat()
        except ValueError:
            raise _Invalid(f"{field.strip(' ')!r} is not {what}") from None

    if column.type == "str":
        return check_str
    if column.type == "date":
        return check_date
    return check_implied if implied else check_number


def _date_pattern(fmt: str) -> re.Pattern:
    """%Y%m%d -> (?P<Y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2}); literal characters as they are."""
    groups = {"%Y": "(?P<Y>[0-9]{4})", "%y": "(?P<y>[0-9]{2})", "%m": "(?P<m>[0-9]{2})", "%d": "(?P<d>[0-9]{2})"}
    return re.compile("".join(groups.get(part, re.escape(part)) for part in re.findall(r"%.|[^%]", fmt)))


def _date_parts(fmt: str) -> list[tuple[str, int, int]]:
    """(directive or literal character, offset, width) of a date format, e.g. %d/%m/%Y."""
    parts, offset = [], 0
    for part in re.findall(r"%.|[^%]", fmt):
        width = DATE_PARTS.get(part, 1)
        parts.append((part, offset, width))
        offset += width
    return parts


# --- the file's lines, as arrays ---------------------------------------------------------


@dataclass
class _Lines:
    """The data lines of a file (header lines dropped) as offsets into its characters."""

    data: bytes
    decoded: str | None  # the file as text, unless it is pure ASCII
    chars: np.ndarray  # the file's characters: its bytes (uint8) if ASCII, else code points (uint32)
    start: np.ndarray  # first character of each data line
    end: np.ndarray  # end of its content: the line ending, as declared, excluded
    stop: np.ndarray  # where its LF is (or the end of the file)
    plain: np.ndarray  # no control character or backslash, and the line ending the layout wants
    first_number: int  # the 1-based line number of the first data line
    ends_with_newline: bool

    @classmethod
    def split(cls, path: Path, data: bytes, rules: _Rules) -> _Lines:
        buf = np.frombuffer(data, dtype=np.uint8)
        decoded, chars = None, buf
        if (buf >= 0x80).any():
            # Characters are what the layout counts: code points make every character one
            # array element, whatever its size in the file's encoding.
            decoded = _decode(path, data, rules)
            chars = np.frombuffer(decoded.encode("utf-32-le"), dtype=np.uint32)
        newlines = np.flatnonzero(chars == ord("\n"))
        start = np.concatenate(([0], newlines + 1))
        stop = np.concatenate((newlines, [len(chars)]))
        ends_with_newline = data.endswith(b"\n")
        if ends_with_newline:  # the empty "line" after the last newline is no record
            start, stop = start[:-1], stop[:-1]
        has_cr = (stop > start) & (chars[np.maximum(stop - 1, 0)] == ord("\r"))
        end = stop if rules.line_ending == "lf" else stop - has_cr

        h = rules.header_lines
        if len(start) <= h or (end[h:] == start[h:]).all():
            raise BadInputError(f"{path}: no data lines after {h} header line{'' if h == 1 else 's'}")

        # Control characters (tab, CR, NUL...) and backslash need COPY escapes or a reject.
        special = (chars < 32) | (chars == ord("\\"))
        special[newlines] = False
        if rules.line_ending != "lf":
            special[end[has_cr]] = False  # a CR before the LF is the line ending, not content
        plain = np.ones(len(start), dtype=bool)
        plain[np.searchsorted(start, np.flatnonzero(special), side="right") - 1] = False
        if rules.line_ending == "crlf":
            missing_cr = ~has_cr
            missing_cr[-1] &= ends_with_newline  # a last line without LF has no line ending to check
            plain &= ~missing_cr
        return cls(data, decoded, chars, start[h:], end[h:], stop[h:], plain[h:], h + 1, ends_with_newline)

    def text(self, start: int, stop: int) -> str:
        return self.data[start:stop].decode("ascii") if self.decoded is None else self.decoded[start:stop]


def _decode(path: Path, data: bytes, rules: _Rules) -> str:
    try:
        return data.decode(rules.codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[data.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode(rules.codec, errors="replace")) + 1
        raise BadInputError(
            f"{path}: line {line}: byte 0x{data[exc.start]:02x} at column {column} "
            f"is not {_CODEC_NAMES[rules.codec]} (the layout says {rules.layouts[0].encoding})"
        ) from None


def _kinds(lines: _Lines, rules: _Rules, length: np.ndarray) -> np.ndarray:
    """Each data line's kind: a layout's index, SKIP, UNKNOWN, or SHORT; as _Rules.kind."""
    if rules.record_type is None:
        return np.zeros(len(length), dtype=np.int64)
    start, width = rules.record_type.start, rules.record_type.width
    kind = np.where(length < start + width, SHORT, UNKNOWN)
    holding = np.flatnonzero(length >= start + width)
    field = _gather(lines.chars, lines.start[holding] + start, width)
    for value, code in [(value, SKIP) for value in rules.skip] + list(rules.kinds.items()):  # declared kinds win
        kind[holding[(field == np.array([ord(c) for c in value])).all(axis=1)]] = code
    return kind


def _check_record_length(path: Path, rules: _Rules, kind: np.ndarray, length: np.ndarray, counted: np.ndarray) -> None:
    """The first record is longer or shorter than its layout says, and so are most records (by
    the same difference, for record kinds of different lengths): the layout is not this file's."""
    if not counted.any():
        return
    first = int(np.argmax(counted))
    if kind[first] < 0:
        return
    lengths = np.array([layout.record_length for layout in rules.layouts])
    difference = length - lengths[np.maximum(kind, 0)]
    if difference[first] == 0 or (counted & (kind >= 0) & (difference == difference[first])).sum() * 2 <= counted.sum():
        return
    raise BadInputError(
        f"{path}: records are {length[first]} characters, the layout says {lengths[kind[first]]}: "
        "wrong layout for this file?"
    )


# --- the vectorised path -------------------------------------------------------------------


def _chunks(indices: np.ndarray, record_bytes: int) -> Iterator[np.ndarray]:
    size = max(1, CHUNK_BYTES // max(record_bytes, 1))
    for at in range(0, len(indices), size):
        yield indices[at : at + size]


def _gather(chars: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The (lines, width) characters from each start; a strided view when the lines are evenly
    spaced (the usual file), saving the index matrix and the copy."""
    n = len(starts)
    if n > 1:
        step = int(starts[1] - starts[0])
        if step >= width and int(starts[-1] - starts[0]) == step * (n - 1) and (np.diff(starts) == step).all():
            size = chars.itemsize
            return as_strided(chars[int(starts[0]) :], shape=(n, width), strides=(step * size, size), writeable=False)
    return chars[starts[:, None] + np.arange(width)]


def _fast_rows(
    lines: _Lines, chunk: np.ndarray, layout: FileLayout, rules: _Rules
) -> tuple[np.ndarray, bytes, np.ndarray]:
    """Validate a chunk of plain lines of the right length; the COPY text of those accepted.

    Returns (accepted mask, COPY text of the accepted lines in order, its length per line).
    Fields are handled transposed, (width, lines): numpy reduces across the few positions of
    a field many times faster along the first axis than along the last.
    """
    n = len(chunk)
    records = _gather(lines.chars, lines.start[chunk], layout.record_length)
    ok = np.ones(n, dtype=bool)
    pieces: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for column in layout.columns:
        field = np.ascontiguousarray(records[:, column.start : column.end].T)
        valid, pieces[column.name] = _FIELDS[column.type](field, column, rules, column.name in layout.field_mapping)
        ok &= valid
    row: list[tuple[np.ndarray, np.ndarray]] = []
    for _, column in layout.target_columns:
        row += [*pieces[column.name], (_TAB, _TRUE)]
    row += [_line_numbers(chunk + lines.first_number), (_NEWLINE, _TRUE)]
    # One byte matrix for the rows, and a mask of the bytes to keep: the spaces around a
    # value, the \N of a non-NULL value and the value of a NULL drop out. Characters of the
    # numbers and dates of accepted lines are ASCII: the cast to bytes keeps them.
    values = np.concatenate([np.broadcast_to(v, (len(v), n)) for v, _ in row], dtype=np.uint8, casting="unsafe")
    keep = np.concatenate([np.broadcast_to(k, (len(v), n)) for v, k in row])
    keep &= ok
    copy_data = np.ascontiguousarray(values.T)[np.ascontiguousarray(keep.T)].tobytes()
    return ok, copy_data, keep.sum(axis=0)[ok]


def _null(nonempty: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """\\N where a value is NULL; nothing at all when no line of the chunk has one."""
    return [] if nonempty.all() else [(_NULL, ~nonempty[None, :])]


def _str_field(field: np.ndarray, column: Column, rules: _Rules, mapped: bool) -> tuple[np.ndarray, list]:
    filled = field != ord(" ")
    nonempty = np.logical_or.reduce(filled, axis=0)
    valid = nonempty | (not column.required)
    if not mapped:
        return valid, []
    inside = np.logical_or.accumulate(filled, axis=0) & np.logical_or.accumulate(filled[::-1], axis=0)[::-1]
    if field.dtype == np.uint8 or (field < 0x80).all():
        return valid, [(field, inside), *_null(nonempty)]
    return valid, [_utf8(field, inside), *_null(nonempty)]


def _utf8(points: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code points (width, lines) as UTF-8: four byte slots per character, the unused dropped."""
    points = points.astype(np.uint32)
    size = 1 + (points >= 0x80).astype(np.uint32) + (points >= 0x800) + (points >= 0x10000)
    lead = np.select(
        [size == 1, size == 2, size == 3],
        [points, 0xC0 | (points >> 6), 0xE0 | (points >> 12)],
        0xF0 | (points >> 18),
    )
    slots = np.empty((points.shape[0], 4, points.shape[1]), dtype=np.uint8)
    slots[:, 0] = lead
    for slot in (1, 2, 3):  # continuation bytes: 6 bits each, the last slot holds the lowest bits
        shift = 6 * np.maximum(size.astype(np.int64) - 1 - slot, 0)
        slots[:, slot] = 0x80 | ((points >> shift.astype(np.uint32)) & 0x3F)
    used = (np.arange(4)[None, :, None] < size[:, None, :]) & keep[:, None, :]
    return slots.reshape(-1, points.shape[1]), used.reshape(-1, points.shape[1])


def _number_field(field: np.ndarray, column: Column, rules: _Rules, mapped: bool) -> tuple[np.ndarray, list]:
    """int and decimal: spaces, an optional sign, digits (one '.' for a decimal), spaces."""
    filled = field != ord(" ")
    nonempty = np.logical_or.reduce(filled, axis=0)
    digit = (field - ord("0")) < 10  # unsigned arithmetic: characters below '0' wrap round to large values
    sign = (field == ord("+")) | (field == ord("-"))
    allowed = digit | sign
    point = column.type == "decimal" and not column.implied_decimals
    if point:
        dot = field == ord(".")
        allowed |= dot
    digits = digit.sum(axis=0, dtype=np.int32)
    valid = ~np.logical_or.reduce(filled & ~allowed, axis=0) & (digits > 0)
    valid &= filled[0] + (filled[1:] & ~filled[:-1]).sum(axis=0, dtype=np.int32) <= 1  # no inner spaces
    valid &= ~np.logical_or.reduce(sign[1:] & filled[:-1], axis=0)  # a sign only in front
    if point:
        valid &= dot.sum(axis=0, dtype=np.int32) <= 1
    if column.type == "int" and column.width >= 19:
        valid &= digits < 19  # may overflow bigint: the Python path decides
    valid = np.where(nonempty, valid, not column.required)
    if not mapped:
        return valid, []
    if not column.implied_decimals:
        return valid, [(field, filled), *_null(nonempty)]

    # Implied decimals: right-align the digits, pad with zeros to at least k+1 of them, and put
    # the point before the last k.
    width, k = column.width, column.implied_decimals
    at = np.arange(width)[:, None]
    last = np.where(filled, at, -1).max(axis=0)
    first = np.where(filled, at, width).min(axis=0)
    signed = np.logical_or.reduce(sign, axis=0)
    source = at + (last - (width - 1))
    present = source >= first + signed
    digits_out = np.where(present, np.take_along_axis(field, np.clip(source, 0, width - 1), axis=0), ord("0"))
    keep = (present | (at >= width - 1 - k)) & nonempty
    lead = field[np.minimum(first, width - 1), np.arange(field.shape[1])]
    return valid, [
        (lead[None, :], (signed & nonempty)[None, :]),
        (digits_out[: width - k], keep[: width - k]),
        (_DOT, nonempty[None, :]),
        (digits_out[width - k :], keep[width - k :]),
        *_null(nonempty),
    ]


def _date_field(field: np.ndarray, column: Column, rules: _Rules, mapped: bool) -> tuple[np.ndarray, list]:
    """Digits where the format has directives, its literal characters elsewhere, a real date."""
    nonempty = np.logical_or.reduce(field != ord(" "), axis=0)
    valid = np.ones(field.shape[1], dtype=bool)
    numbers, digits = {}, {}
    for part, offset, width in rules.dates[column.format]:
        piece = field[offset : offset + width]
        if part in DATE_PARTS:
            valid &= np.logical_and.reduce((piece - ord("0")) < 10, axis=0)
            numbers[part] = (10 ** np.arange(width - 1, -1, -1)) @ (piece.astype(np.int64) - ord("0"))
            digits[part] = piece
        else:
            valid &= piece[0] == ord(part)
    if "%Y" in numbers:
        year, year_digits = numbers["%Y"], digits["%Y"]
    else:
        recent = numbers["%y"] < 69
        year = numbers["%y"] + np.where(recent, 2000, 1900)
        century = np.where(recent, np.array([[ord("2")], [ord("0")]]), np.array([[ord("1")], [ord("9")]]))
        year_digits = np.concatenate([century, digits["%y"]])
    month, day = numbers["%m"], numbers["%d"]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    valid &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)
    valid = np.where(nonempty, valid, not column.required)
    if not mapped:
        return valid, []
    filled = nonempty[None, :]
    return valid, [
        (year_digits, filled),
        (_DASH, filled),
        (digits["%m"], filled),
        (_DASH, filled),
        (digits["%d"], filled),
        *_null(nonempty),
    ]


_FIELDS = {"str": _str_field, "int": _number_field, "decimal": _number_field, "date": _date_field}


def _line_numbers(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """source_line as digits (one row per position), without leading zeros."""
    width = len(str(int(numbers[-1])))
    digits = np.empty((width, len(numbers)), dtype=np.uint8)
    rest = numbers.astype(np.int32 if numbers[-1] < 2**31 else np.int64)
    for at in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        digits[at] = digit
    keep = np.logical_or.accumulate(digits != 0, axis=0)
    digits += ord("0")
    return digits, keep


class _TableParts:
    """One layout's rows: vectorised chunks in line order, plus the lines parsed one by one."""

    def __init__(self) -> None:
        self.fast: list[bytes] = []
        self.fast_lines: list[np.ndarray] = []
        self.fast_lengths: list[np.ndarray] = []
        self.slow: list[tuple[int, bytes]] = []

    def add_fast(self, copy_data: bytes, numbers: np.ndarray, lengths: np.ndarray) -> None:
        self.fast.append(copy_data)
        self.fast_lines.append(numbers)
        self.fast_lengths.append(lengths)

    @property
    def rows(self) -> int:
        return sum(len(n) for n in self.fast_lines) + len(self.slow)

    def copy_data(self) -> bytes:
        """All rows in line order: the one-by-one rows spliced in between the vectorised ones."""
        fast = b"".join(self.fast)
        if not self.slow:
            return fast
        if not fast:
            return b"".join(row for _, row in self.slow)
        ends = np.cumsum(np.concatenate(self.fast_lengths))
        before = np.searchsorted(np.concatenate(self.fast_lines), [number for number, _ in self.slow])
        view, pieces, done = memoryview(fast), [], 0
        for count, (_, row) in zip(before.tolist(), self.slow, strict=True):
            offset = int(ends[count - 1]) if count else 0
            pieces += [view[done:offset], row]
            done = offset
        pieces.append(view[done:])
        return b"".join(pieces)
