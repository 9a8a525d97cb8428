"""Daily landing files ``retail_YYYY-MM-DD.csv``: naming, checks, and splitting an export."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from reliable_etl.errors import BadInputError
from reliable_etl.retail import HEADER

FILE_PATTERN = "retail_{day}.csv"
_DATE_IN_ROW = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T]|^(\d{1,2})/(\d{1,2})/(\d{4}) ")


def landing_path(landing_dir: Path, day: dt.date) -> Path:
    return Path(landing_dir) / FILE_PATTERN.format(day=day.isoformat())


@dataclass(frozen=True)
class LandingFile:
    path: Path
    sha256: str
    size_bytes: int


def file_sha256(path: Path) -> str:
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def inspect_file(path: Path) -> LandingFile:
    """Check a landing file is there, not empty and has the UCI header; hash it."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{path}: landing file does not exist")
    digest = hashlib.sha256()
    with path.open("rb") as f:
        first = f.readline()
        digest.update(first)
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(f"{path}: empty file (expected at least the header line)")
    try:
        header = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: line 1: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if tuple(next(csv.reader([header]), [])) != HEADER:
        raise BadInputError(f"{path}: line 1: header is {header!r}, expected {','.join(HEADER)!r}")
    return LandingFile(path, digest.hexdigest(), size)


def _open_text(source: Path) -> io.TextIOBase:
    if source.suffix == ".gz":
        return gzip.open(source, "rt", encoding="utf-8", newline="")
    return source.open("r", encoding="utf-8", newline="")


def _row_day(value: str) -> dt.date | None:
    match = _DATE_IN_ROW.match(value.strip())
    if not match:
        return None
    if match.group(1):
        return dt.date.fromisoformat(match.group(1))
    month, day, year = (int(g) for g in match.groups()[1:])
    return dt.date(year, month, day)


@dataclass(frozen=True)
class SplitResult:
    first_day: dt.date
    last_day: dt.date
    files: int
    rows: int


def split_export(
    source: Path,
    landing_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> SplitResult:
    """Cut a full export (CSV or .csv.gz) into one landing file per calendar day.

    Days without sales between the first and last date get a header-only file. Files are
    written to a temporary name and renamed, so a reader never sees half a file.
    """
    source, landing_dir = Path(source), Path(landing_dir)
    days: dict[dt.date, list[list[str]]] = {}
    rows = 0
    with _open_text(source) as f:
        reader = csv.reader(f)
        header = tuple(next(reader, ()))
        if header != HEADER:
            raise BadInputError(f"{source}: line 1: header is {','.join(header)!r}, expected {','.join(HEADER)!r}")
        for row in reader:
            if len(row) != len(HEADER):
                raise BadInputError(f"{source}: line {reader.line_num}: {len(row)} fields, expected {len(HEADER)}")
            try:
                day = _row_day(row[4])
            except ValueError:
                day = None
            if day is None:
                raise BadInputError(f"{source}: line {reader.line_num}: InvoiceDate {row[4]!r} is not a date")
            days.setdefault(day, []).append(row)
            rows += 1
            if progress and rows % 100_000 == 0:
                progress(rows)
    if not days:
        raise BadInputError(f"{source}: no rows after the header")
    landing_dir.mkdir(parents=True, exist_ok=True)
    first, last = min(days), max(days)
    for day in _calendar(first, last):
        _write_atomically(landing_path(landing_dir, day), days.get(day, []))
    return SplitResult(first, last, (last - first).days + 1, rows)


def _calendar(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _write_atomically(path: Path, rows: list[list[str]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    os.replace(tmp, path)
