"""Declared CSV schemas: the file both compute paths read, and the check synth runs on it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from filepipe.transforms.csv_schemas import SCHEMAS, SchemaError, for_key, load, parse_type, validate

EXAMPLE = """
[[schema]]
pattern = "finance/*.csv"
delimiter = ";"
header = true
skip = 2
nulls = ["", "n/a"]
encoding = "latin-1"
[schema.columns]
account = "string"
amount = "decimal(18,2)"
booked = "date(%d.%m.%Y)"
at = "timestamp_utc"

[[schema]]
pattern = "sensors/*"
header = false
quote = ""
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "csv_schemas.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_is_valid() -> None:
    from filepipe.transforms import validate_csv_schemas

    assert validate_csv_schemas is validate
    validate()
    assert load(SCHEMAS) == ()


def test_an_example_loads_in_order_with_its_types(tmp_path: Path) -> None:
    finance, sensors = load(write(tmp_path, EXAMPLE))
    assert finance.delimiter == ";" and finance.skip == 2 and finance.nulls == ("", "n/a")
    assert list(finance.columns) == ["account", "amount", "booked", "at"]
    assert finance.columns["amount"].arrow == pa.decimal128(18, 2)
    assert finance.columns["booked"].format == "%d.%m.%Y"
    assert finance.columns["at"].arrow == pa.timestamp("us", "UTC")
    assert finance.transcoded and not sensors.transcoded
    assert finance.sniff_options() == {"delim": ";", "header": True, "skip": 2}
    assert sensors.sniff_options() == {"quote": "", "header": False}


def test_the_first_matching_pattern_applies_case_insensitively(tmp_path: Path) -> None:
    declared = load(write(tmp_path, EXAMPLE))
    assert for_key("Finance/2026/jan.CSV", declared) is declared[0]
    assert for_key("sensors/a/b.csv", declared) is declared[1]
    assert for_key("other/x.csv", declared) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[schema]]\ndelimiter = ';'\n", "'pattern'.*is required"),
        ("[[schema]]\npattern = 'a/*'\ndelimiters = ';'\n", r"unknown key\(s\) \['delimiters'\]"),
        ("[[schema]]\npattern = 'a/*'\ndelimiter = ';;'\n", "'delimiter' must be one character"),
        ("[[schema]]\npattern = 'a/*'\ndelimiter = ''\n", "'delimiter' must be one character, not ''"),
        ("[[schema]]\npattern = 'a/*'\nheader = 'yes'\n", "'header' must be a bool"),
        ("[[schema]]\npattern = 'a/*'\nskip = -1\n", "'skip' counts lines"),
        ("[[schema]]\npattern = 'a/*'\nnulls = 'NA'\n", "'nulls' must be a list of strings"),
        ("[[schema]]\npattern = 'a/*'\nencoding = 'utf-16'\n", "not ASCII-compatible"),
        ("[[schema]]\npattern = 'a/*'\nencoding = 'klingon'\n", "no codec 'klingon'"),
        ("[[schema]]\npattern = 'a/*'\ncolumns = {x = 'money'}\n", "column 'x': 'money' is not a type"),
        ("[[schema]]\npattern = 'a/*'\ncolumns = {x = 'decimal(40,2)'}\n", "precision is 1 to 38"),
        ("[[schema]]\npattern = 'a/*'\ncolumns = {x = 'date(dd.mm)'}\n", "'date\\(dd.mm\\)' is not a type"),
        ("[[schema]]\npattern = 'a/*'\ncolumns = {x = 'string', X = 'int64'}\n", "unique \\(ignoring case\\): 'X'"),
        ("[[schema]]\npattern = 'a/*'\n[[schema]]\npattern = 'A/*'\n", "'a/\\*' is declared twice"),
        ("[schema]\npattern = 'a/*'\n", "must be a list of tables"),
        ("patterns = []\n", "unknown top-level key"),
        ("[[schema]\n", "csv_schemas.toml"),
    ],
    ids=[
        "no-pattern",
        "unknown-key",
        "long-delimiter",
        "empty-delimiter",
        "header-not-bool",
        "negative-skip",
        "nulls-not-list",
        "utf-16",
        "unknown-codec",
        "unknown-type",
        "wide-decimal",
        "format-without-percent",
        "duplicate-column",
        "duplicate-pattern",
        "not-a-list",
        "unknown-top-level",
        "not-toml",
    ],
)
def test_a_bad_file_is_refused_naming_the_entry_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        validate(write(tmp_path, text))
    assert "csv_schemas.toml" in str(caught.value)


def test_an_entry_is_named_by_its_position_and_pattern(tmp_path: Path) -> None:
    text = "[[schema]]\npattern = 'ok/*'\n[[schema]]\npattern = 'bad/*'\nskip = -2\n"
    with pytest.raises(SchemaError, match=r"schema 2 \('bad/\*'\): 'skip'"):
        validate(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "arrow", "format"),
    [
        ("string", pa.string(), None),
        ("int64", pa.int64(), None),
        ("float64", pa.float64(), None),
        ("bool", pa.bool_(), None),
        ("decimal(18, 2)", pa.decimal128(18, 2), None),
        ("date", pa.date32(), None),
        ("date(%d/%m/%Y)", pa.date32(), "%d/%m/%Y"),
        ("timestamp", pa.timestamp("us"), None),
        ("timestamp(%Y%m%d %H%M)", pa.timestamp("us"), "%Y%m%d %H%M"),
        ("timestamp_utc(%Y-%m-%dT%H:%M:%S%z)", pa.timestamp("us", "UTC"), "%Y-%m-%dT%H:%M:%S%z"),
    ],
)
def test_declared_types(text: str, arrow: pa.DataType, format: str | None) -> None:
    parsed = parse_type(text)
    assert parsed.arrow == arrow and parsed.format == format
