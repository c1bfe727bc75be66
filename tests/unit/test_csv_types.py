"""Column types found in a sample, and held to every later value exactly."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from filepipe.transforms._csv_types import STRING, ColumnType, Conflict, convert, infer, parsed_as


def text(*values: str | None) -> pa.Array:
    return pa.array(values, pa.string())


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", None, "0"], pa.int64()),
        (["02134", "10001"], pa.string()),
        (["12345678901234567890", "1"], pa.decimal128(38, 0)),
        (["1" * 39], pa.string()),
        (["+5", "6"], pa.string()),
        (["1.50", "2.255", "3"], pa.decimal128(18, 3)),
        (["123456789012345678.5"], pa.decimal128(38, 1)),
        (["00.5"], pa.string()),
        (["1e3", "2.5", "7"], pa.float64()),
        (["1e3", "12345678901234567890"], pa.string()),
        (["nan", "1.5e-3"], pa.float64()),
        (["true", "FALSE", None], pa.bool_()),
        (["true", "1"], pa.string()),
        (["2026-01-31", "1999-12-01"], pa.date32()),
        (["2026-02-30"], pa.string()),
        (["2026-01-31T10:00:00Z", "2026-01-31 11:00:00+02:00"], pa.timestamp("s", "UTC")),
        (["2026-01-31 10:00:00.25", "2026-01-31T10:00:00"], pa.timestamp("ms")),
        (["2026-01-31T10:00:00.1234567"], pa.timestamp("ns")),
        (["2026-01-31T10:00:00Z", "2026-01-31T10:00:00"], pa.string()),
        ([None, None], pa.string()),
        (["ann", "1"], pa.string()),
    ],
    ids=[
        "int",
        "leading-zeros",
        "beyond-int64",
        "beyond-38-digits",
        "plus-sign",
        "decimal",
        "wide-decimal",
        "leading-zero-decimal",
        "scientific",
        "scientific-beside-a-long-integer",
        "nan",
        "bool",
        "bool-and-one",
        "date",
        "impossible-date",
        "zoned-timestamp",
        "fraction-millis",
        "fraction-nanos",
        "mixed-zones",
        "all-null",
        "text",
    ],
)
def test_inference_picks_the_narrowest_exact_type(values: list[str | None], expected: pa.DataType) -> None:
    assert infer(text(*values)).arrow == expected


def test_converted_values_are_exact() -> None:
    assert convert(text("1.5", "2.25", None), ColumnType(pa.decimal128(18, 2))).to_pylist() == [  # type: ignore[union-attr]
        Decimal("1.50"),
        Decimal("2.25"),
        None,
    ]
    assert convert(text("12345678901234567890"), ColumnType(pa.decimal128(38, 0))).to_pylist() == [  # type: ignore[union-attr]
        Decimal("12345678901234567890")
    ]


@pytest.mark.parametrize(
    ("values", "to", "conflict"),
    [
        (["1", "2", "0123"], pa.int64(), Conflict(2, "0123", "has a leading zero that a number would lose")),
        (["1", "-0", "-07"], pa.int64(), Conflict(2, "-07", "has a leading zero that a number would lose")),
        (["1", "1.5"], pa.int64(), Conflict(1, "1.5", "is not an integer within int64")),
        (
            ["1", "99999999999999999999"],
            pa.int64(),
            Conflict(1, "99999999999999999999", "is not an integer within int64"),
        ),
        (
            ["1.25", "1.255"],
            pa.decimal128(18, 2),
            Conflict(1, "1.255", "is not a decimal with at most 16 digits before the point and 2 after"),
        ),
        (["true", "1"], pa.bool_(), Conflict(1, "1", "is not true or false")),
        (["2026-01-01", "2026-13-01"], pa.date32(), Conflict(1, "2026-13-01", "is not an ISO date")),
    ],
    ids=["leading-zero", "negative-leading-zero", "fraction", "overflow", "scale", "bool", "date"],
)
def test_a_value_the_type_cannot_hold_is_named_not_changed(
    values: list[str], to: pa.DataType, conflict: Conflict
) -> None:
    assert convert(text(*values), ColumnType(to)) == conflict


def test_a_declared_format_reads_its_dates_and_names_a_mismatch() -> None:
    day = ColumnType(pa.date32(), "%d.%m.%Y")
    assert [str(d) for d in convert(text("31.01.2026"), day).to_pylist()] == ["2026-01-31"]  # type: ignore[union-attr]
    conflict = convert(text("31.01.2026", "2026-01-31"), day)
    assert isinstance(conflict, Conflict) and (conflict.index, conflict.value) == (1, "2026-01-31")


def test_only_strict_types_are_parsed_by_pyarrow_itself() -> None:
    """pyarrow reads ``0123`` as 123: numbers are parsed as text and checked; bools, dates and
    timestamps (strict in pyarrow) are parsed directly."""
    assert parsed_as(ColumnType(pa.int64())) == pa.string()
    assert parsed_as(ColumnType(pa.decimal128(18, 2))) == pa.string()
    assert parsed_as(ColumnType(pa.bool_())) == pa.bool_()
    assert parsed_as(ColumnType(pa.timestamp("s", "UTC"))) == pa.timestamp("s", "UTC")
    assert parsed_as(ColumnType(pa.date32(), "%d.%m.%Y")) == pa.string()
    assert parsed_as(STRING) == pa.string()
