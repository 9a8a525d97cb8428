"""relationships.json: loaded and checked up front, errors naming the file and the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from reliable_etl.config import resource
from reliable_etl.files.layouts import LayoutError, identifier, load_relationships

SHIPPED = resource("files", "relationships.json")
BASE = json.loads(SHIPPED.read_text())
# what the system this bundle replaces writes: layouts keyed by file name, its own spelling of names
SEED = {
    "primary_keys": {"DF_8865": ["CASES_KEY"]},
    "file_layouts": {
        "STUDENT.DAT": {
            "filename": "STUDENT.DAT",
            "table_name": "DF_8865",
            "columns": [{"name": "CASES_KEY", "start": 0, "width": 10}, {"name": "SURNAME", "start": 10, "width": 30}],
            "field_mapping": {"CASES_KEY": "studentId", "SURNAME": "surname"},
        }
    },
}


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
        (lambda d: column(d, "date").update(name="da te"), r"columns\[1\]: name: 'da te' is not a safe name"),
        (lambda d: d["file_layouts"][0].update(record_length=20), r"record_length 20 is shorter than the columns"),
        (lambda d: column(d, "date").update(format="%d/%m/%Y"), r"date format '%d/%m/%Y' is 10 characters, width 8"),
        (lambda d: column(d, "date").update(format="%Y%m%H"), r"needs one year \(%Y or %y\), one %m and one %d"),
        (lambda d: d["file_layouts"][0].update(encoding="ebcdic"), r"encoding 'ebcdic' is not one of"),
        (lambda d: d.update(primary_keys={"cdnow_purchases": ["customer"]}), r"primary key column 'customer'"),
        (lambda d: d.update(file_to_table={"CDNOW_master.txt": "other"}), r"file_to_table maps 'CDNOW_master.txt'"),
        (lambda d: d.update(file_to_table={"missing.txt": "x"}), r"file_to_table: no layout for file 'missing.txt'"),
        (
            lambda d: d["file_layouts"][0]["field_mapping"].update(date="customer_id"),
            r"field_mapping: 'customer_id' -> 'customer_id' and 'date' -> 'customer_id' both become column",
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


def seed(change: Callable[[dict], object] = lambda d: None) -> dict:
    doc = copy.deepcopy(SEED)
    change(doc)
    return doc


def test_the_seed_systems_own_relationships_json_loads_as_it_is(tmp_path: Path) -> None:
    relationships = load_relationships(write(tmp_path, SEED))
    (layout,) = relationships.layouts_for("STUDENT.DAT")
    assert (layout.filename, layout.table_name, layout.record_length) == ("STUDENT.DAT", "df_8865", 40)
    assert [(t, c.name, c.type, c.sql_type) for t, c in layout.target_columns] == [
        ("student_id", "CASES_KEY", "str", "text"),  # no type: text
        ("surname", "SURNAME", "str", "text"),
    ]
    assert layout.primary_key == ("student_id",)  # named by its file column
    assert layout.where == "relationships.json: file_layouts['STUDENT.DAT']"
    assert relationships.tables == ["df_8865"]


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("DF_8865", "df_8865"),
        ("studentId", "student_id"),
        ("CASES_KEY", "cases_key"),
        ("HTTPServer", "http_server"),
        ("surname", "surname"),
        ("studentID", "student_id"),
        ("Address2Line", "address2_line"),
        ("_private", "_private"),
        ("x" * 63, "x" * 63),
    ],
)
def test_names_fold_to_snake_case(name: str, folded: str) -> None:
    assert identifier(name, "here") == folded


@pytest.mark.parametrize(
    "name",
    ['a"b', "a;b", "drop table x", "tab\there", "nl\nx", "bell\x07", "a-b", "Zoë", "1st", "", None, 7, "é"],
)
def test_unsafe_names_are_refused(name: object) -> None:
    with pytest.raises(LayoutError, match=r"^here: .* is not a safe name"):
        identifier(name, "here")


def test_a_name_longer_than_63_bytes_once_folded_is_refused() -> None:
    assert identifier("aB" * 21, "here") == "a_b" * 21  # 42 characters, 63 once folded
    with pytest.raises(LayoutError, match=r"here: 'aBaBaB.*' becomes 'a_ba_ba_b.*' \(64 bytes\): at most 63"):
        identifier("aB" * 21 + "a", "here")


def test_the_object_form_and_the_list_form_are_the_same(tmp_path: Path) -> None:
    as_object = load_relationships(write(tmp_path, SEED)).layouts
    listed = seed(lambda d: d.update(file_layouts=list(d["file_layouts"].values())))
    assert load_relationships(write(tmp_path, listed)).layouts == as_object
    without_filename = seed(lambda d: d["file_layouts"]["STUDENT.DAT"].pop("filename"))
    assert load_relationships(write(tmp_path, without_filename)).layouts == as_object


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["file_layouts"]["STUDENT.DAT"].update(filename="PUPIL.DAT"),
            r"file_layouts\['STUDENT.DAT'\]: its filename 'PUPIL.DAT' differs from its key 'STUDENT.DAT'",
        ),
        (
            lambda d: d["file_layouts"].update({"OTHER.DAT": [{}]}),
            r"file_layouts\['OTHER.DAT'\]: must be an object \(the list form of 'file_layouts' takes",
        ),
        (lambda d: d.update(file_layouts={}), r"needs 'file_layouts': a non-empty list, or an object keyed by"),
        (
            lambda d: d["file_layouts"]["STUDENT.DAT"]["field_mapping"].update(SURNAME="student_id"),
            r"file_layouts\['STUDENT.DAT'\]: field_mapping: 'CASES_KEY' -> 'studentId' and 'SURNAME' -> "
            r"'student_id' both become column 'student_id'",
        ),
        (
            lambda d: d["file_layouts"]["STUDENT.DAT"]["field_mapping"].update(SURNAME="sourceLine"),
            r"field_mapping\['SURNAME'\]: 'sourceLine' becomes 'source_line', which is reserved",
        ),
        (
            lambda d: d["file_layouts"]["STUDENT.DAT"].update(table_name="DF-8865"),
            r"file_layouts\['STUDENT.DAT'\]: table_name: 'DF-8865' is not a safe name",
        ),
        (
            lambda d: d["file_layouts"]["STUDENT.DAT"]["columns"][1].update(name="SUR NAME"),
            r"file_layouts\['STUDENT.DAT'\]: columns\[1\]: name: 'SUR NAME' is not a safe name",
        ),
        (
            lambda d: d["primary_keys"].update(df_8865=["surname"]),
            r"primary_keys: 'DF_8865' and 'df_8865' both name table 'df_8865'",
        ),
        (lambda d: d.update(primary_keys={"DF_8866": ["CASES_KEY"]}), r"primary_keys: no layout loads table 'df_8866'"),
        (
            lambda d: d.update(primary_keys={"DF_8865": ["CASES_KEY", "studentId"]}),
            r"primary_keys\['DF_8865'\]: 'CASES_KEY' and 'studentId' are both column 'student_id'",
        ),
        (
            lambda d: d.update(primary_keys={"DF_8865": ["studentName"]}),
            r"primary key column 'studentName' of 'df_8865' is not a mapped column",
        ),
        (
            lambda d: d.update(file_to_table={"STUDENT.DAT": "DF_8866"}),
            r"file_to_table maps 'STUDENT.DAT' to 'df_8866', its layout to \['df_8865'\]",
        ),
        (
            lambda d: d["file_layouts"].update(
                {
                    "PUPIL.DAT": {
                        **copy.deepcopy(d["file_layouts"]["STUDENT.DAT"]),
                        "filename": "PUPIL.DAT",
                        "table_name": "df_8865",
                    }
                }
            ),
            r"file_layouts\['PUPIL.DAT'\]: table_name 'df_8865' and file_layouts\['STUDENT.DAT'\]: table_name "
            r"'DF_8865' both become table 'df_8865'",
        ),
    ],
)
def test_seed_shaped_errors_name_the_file_and_the_field(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(LayoutError, match=message) as exc_info:
        load_relationships(write(tmp_path, seed(change)))
    assert str(exc_info.value).startswith("relationships.json")


@pytest.mark.parametrize(
    ("key", "folded"),
    [
        (["CASES_KEY"], ("student_id",)),  # the file column
        (["studentId"], ("student_id",)),  # its target as written
        (["student_id"], ("student_id",)),  # or folded
        (["source_line", "SURNAME"], ("source_line", "surname")),
    ],
)
def test_names_fold_everywhere(tmp_path: Path, key: list[str], folded: tuple[str, ...]) -> None:
    """primary_keys and file_to_table may spell a table either way, a key column either way."""
    doc = seed(lambda d: d.update(primary_keys={"df_8865": key}, file_to_table={"STUDENT.DAT": "DF_8865"}))
    (layout,) = load_relationships(write(tmp_path, doc)).layouts
    assert layout.primary_key == folded


def test_without_field_mapping_every_column_loads_under_its_name_folded(tmp_path: Path) -> None:
    (layout,) = load_relationships(
        write(tmp_path, seed(lambda d: d["file_layouts"]["STUDENT.DAT"].pop("field_mapping")))
    ).layouts
    assert [t for t, _ in layout.target_columns] == ["cases_key", "surname"]
    assert layout.primary_key == ("cases_key",)


def test_a_key_column_that_could_be_two_columns_is_refused(tmp_path: Path) -> None:
    """'ID' is a file column loading as legacy_id, and folds to id, the target of another column."""
    doc = seed(
        lambda d: d["file_layouts"]["STUDENT.DAT"].update(
            columns=[{"name": "ID", "start": 0, "width": 10}, {"name": "NEWID", "start": 10, "width": 30}],
            field_mapping={"ID": "legacyId", "NEWID": "id"},
        )
    )
    doc["primary_keys"] = {"DF_8865": ["ID"]}
    with pytest.raises(LayoutError, match=r"primary_keys\['DF_8865'\]: 'ID' is ambiguous: the file column 'ID' loads"):
        load_relationships(write(tmp_path, doc))


def test_a_layout_of_300_columns(tmp_path: Path) -> None:
    columns = [{"name": f"FIELD_{n:03d}", "start": 8 * n, "width": 8} for n in range(300)]
    mapping = {f"FIELD_{n:03d}": f"field{n:03d}Value" for n in range(300)}
    doc = {"file_layouts": {"WIDE.DAT": {"table_name": "WideTable", "columns": columns, "field_mapping": mapping}}}
    (layout,) = load_relationships(write(tmp_path, doc)).layouts
    assert (layout.table_name, layout.record_length, len(layout.target_columns)) == ("wide_table", 2400, 300)
    assert layout.target_columns[299][0] == "field299_value"


def test_a_key_given_twice_is_refused_not_dropped(tmp_path: Path) -> None:
    text = json.dumps(SEED)
    twice = text.replace('{"STUDENT.DAT": {', '{"STUDENT.DAT": {"table_name": "OTHER", ', 1)
    (tmp_path / "relationships.json").write_text(twice)
    with pytest.raises(LayoutError, match=r"^relationships.json: the key 'table_name' appears twice in one object"):
        load_relationships(tmp_path / "relationships.json")
