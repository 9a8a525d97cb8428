"""relationships.json: loaded and checked up front, errors naming the file and the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from etl.config import PROJECT_ROOT
from etl.files.layouts import LayoutError, load_relationships

SHIPPED = PROJECT_ROOT / "include" / "files" / "relationships.json"
BASE = json.loads(SHIPPED.read_text())


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "relationships.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_shipped_layout_is_the_cdnow_one() -> None:
    relationships = load_relationships(SHIPPED)
    (layout,) = relationships.layouts_for("CDNOW_master.txt")
    assert layout.table_name == "cdnow_purchases"
    assert (layout.header_lines, layout.record_length, layout.line_ending) == (1, 26, "crlf")
    assert [(t, c.start, c.width, c.type) for t, c in layout.target_columns] == [
        ("customer_id", 1, 5, "int"),
        ("purchase_date", 7, 8, "date"),
        ("cd_count", 15, 3, "int"),
        ("amount", 18, 8, "decimal"),
    ]
    assert layout.primary_key == ()  # the log repeats whole records: no natural key
    assert relationships.layouts_for("other.txt") == []


def variant(change: Callable[[dict], object]) -> dict:
    doc = copy.deepcopy(BASE)
    change(doc)
    return doc


def column(doc: dict, name: str) -> dict:
    return next(c for c in doc["file_layouts"][0]["columns"] if c["name"] == name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: column(d, "date").update(start=4),
            r"file_layouts\[0\] \(CDNOW_master.txt\): columns 'customer_id' \(1-5\) and 'date' \(4-11\) overlap",
        ),
        (lambda d: column(d, "number_of_cds").update(width=-3), r"columns\[2\] \(number_of_cds\): width must be"),
        (lambda d: column(d, "number_of_cds").update(start=-1), r"columns\[2\] \(number_of_cds\): start must be"),
        (lambda d: column(d, "number_of_cds").update(type="float"), r"\(number_of_cds\): type 'float' is not one of"),
        (
            lambda d: d["file_layouts"][0]["field_mapping"].update(nope="x"),
            r"field_mapping: 'nope' is not a column of the layout",
        ),
        (
            lambda d: d["file_layouts"][0].update(table_name='x"; drop table y; --'),
            r"table_name: 'x\"; drop table y; --' is not a safe name",
        ),
        (
            lambda d: d["file_layouts"][0]["field_mapping"].update(customer_id="Customer ID"),
            r"field_mapping\['customer_id'\]: 'Customer ID' is not a safe name",
        ),
        (lambda d: column(d, "date").update(name="Date"), r"columns\[1\]: name: 'Date' is not a safe name"),
        (lambda d: d["file_layouts"][0].update(record_length=20), r"record_length 20 is shorter than the columns"),
        (lambda d: column(d, "date").update(format="%d/%m/%Y"), r"date format '%d/%m/%Y' is 10 characters, width 8"),
        (lambda d: column(d, "date").update(format="%Y%m%H"), r"needs one year \(%Y or %y\), one %m and one %d"),
        (lambda d: d["file_layouts"][0].update(encoding="ebcdic"), r"encoding 'ebcdic' is not one of"),
        (lambda d: d.update(primary_keys={"cdnow_purchases": ["customer"]}), r"primary key column 'customer'"),
        (lambda d: d.update(file_to_table={"CDNOW_master.txt": "other"}), r"file_to_table maps 'CDNOW_master.txt'"),
        (lambda d: d.update(file_to_table={"missing.txt": "x"}), r"file_to_table: no layout for file 'missing.txt'"),
        (
            lambda d: d["file_layouts"][0]["field_mapping"].update(date="customer_id"),
            "maps two columns to the same table column",
        ),
        (lambda d: column(d, "dollar_value").update(implied_decimals=2, type="int"), "implied_decimals must be"),
        (lambda d: d["file_layouts"].append(copy.deepcopy(d["file_layouts"][0])), "each needs a record_type"),
    ],
)
def test_bad_layouts_are_refused_naming_the_file_and_field(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(LayoutError, match=message) as exc_info:
        load_relationships(write(tmp_path, variant(change)))
    assert str(exc_info.value).startswith("relationships.json")


def test_not_json_or_missing(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match=r"relationships.json: no such file"):
        load_relationships(tmp_path / "relationships.json")
    (tmp_path / "relationships.json").write_text("{not json")
    with pytest.raises(LayoutError, match="not valid JSON"):
        load_relationships(tmp_path / "relationships.json")


def test_record_kinds_share_a_file(tmp_path: Path) -> None:
    detail = {
        "filename": "ach_*.txt",
        "table_name": "ach_entries",
        "record_type": {"start": 0, "width": 1, "value": "6"},
        "skip_record_types": ["1", "5", "8", "9"],
        "columns": [
            {"name": "record_type", "start": 0, "width": 1},
            {"name": "account", "start": 1, "width": 10, "required": True},
            {"name": "amount", "start": 11, "width": 10, "type": "decimal", "implied_decimals": 2},
        ],
        "field_mapping": {"account": "account", "amount": "amount"},
    }
    batch = {
        **detail,
        "table_name": "ach_batches",
        "record_type": {"start": 0, "width": 1, "value": "5"},
        "skip_record_types": ["1", "6", "8", "9"],
        "columns": [{"name": "record_type", "start": 0, "width": 1}, {"name": "company", "start": 1, "width": 16}],
        "field_mapping": {"company": "company"},
    }
    relationships = load_relationships(write(tmp_path, {"file_layouts": [detail, batch]}))
    kinds = relationships.layouts_for("ach_20261123.txt")
    assert [k.table_name for k in kinds] == ["ach_entries", "ach_batches"]
    assert kinds[0].record_length == 21
    moved = {**batch, "record_type": {"start": 1, "width": 1, "value": "5"}}
    with pytest.raises(LayoutError, match=r"the record_type of .ach_\*\.txt. sits at different positions"):
        load_relationships(write(tmp_path, {"file_layouts": [detail, moved]}))
