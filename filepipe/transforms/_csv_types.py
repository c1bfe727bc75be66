"""Column types for ``csv-to-parquet``: inferred from a sample of text, then held to every chunk.

Every value is parsed as text first and converted by :func:`convert`, which either gives the
exact value or reports the first value it cannot keep. Nothing is rounded or reformatted:
- a number written with a leading zero (``02134``) stays text, since ``2134`` would lose it;
- an integer beyond int64 is a ``decimal128(38, 0)`` (text beyond 38 digits);
- a number with a decimal point is a ``decimal128(18, scale)`` (38 if the sample needs more than
  18 digits), the scale being the most digits after the point in the sample. 18, not the
  sample's widest: integer parts may grow later in the file without failing it, and up to 18
  digits Parquet stores a decimal in 8 bytes whatever its precision;
- only a number in scientific notation, or ``inf``/``nan``, makes a ``double``;
- ``true``/``false`` make a bool (not ``1``/``0``, which are integers);
- ISO 8601 dates make a ``date32``, and date-times a timestamp whose unit keeps every fraction
  digit seen (s, ms, us, ns), in UTC when every value names its offset, naive when none does.
The inference uses Arrow's compute functions (RE2 and casts), so a 2 MiB sample takes
milliseconds; the same casts convert each chunk, so the sample can never accept a value that a
chunk would then change.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

MAX_PRECISION = 38
"""decimal128's precision: the most digits a decimal column can hold exactly."""
SHORT_PRECISION = 18
"""The precision a decimal column gets when its sample needs no more: Parquet stores it in 8
bytes instead of 16, which encodes 1.3 times as fast (measured), and Arrow parses it faster."""

INTEGER = r"^-?(0|[1-9][0-9]*)$"
LEADING_ZERO = r"^[+-]?0[0-9]"
DECIMAL = r"^-?(0|[1-9][0-9]*)?\.[0-9]+$|^-?(0|[1-9][0-9]*)\.$"
FLOAT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$|^(?i)[+-]?(inf|infinity|nan)$"
BOOLEAN = r"^(true|True|TRUE|false|False|FALSE)$"
TRUE_VALUES = ["true", "True", "TRUE"]
FALSE_VALUES = ["false", "False", "FALSE"]
"""What pyarrow parses as a bool: exactly the spellings the inference accepts (not ``1``/``0``)."""
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
ZONE = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
MAX_DOUBLE_DIGITS = 17
SCREEN = 64
UNITS = ((0, "s"), (3, "ms"), (6, "us"), (9, "ns"))


@dataclass(frozen=True)
class ColumnType:
    """An Arrow type, and for a declared date or timestamp the ``strptime`` format to read it."""

    arrow: pa.DataType
    format: str | None = None

    def __str__(self) -> str:
        return f"{self.arrow} ({self.format})" if self.format else str(self.arrow)


STRING = ColumnType(pa.string())


@dataclass(frozen=True)
class Conflict:
    """A value a column's type cannot hold: at ``index`` within the array converted."""

    index: int
    value: str
    reason: str


def infer(values: pa.ChunkedArray | pa.Array) -> ColumnType:
    """The narrowest type that holds every value of ``values`` (text, nulls for empty) exactly."""
    present = pc.drop_null(values)
    if len(present) == 0:
        return STRING
    if _all(present, BOOLEAN):
        return ColumnType(pa.bool_())
    if _leading_zero(present) is not None:
        return STRING
    for candidate in (_integer, _decimal, _float, _date, _timestamp):
        found = candidate(present)
        if found is not None:
            return found
    return STRING


def parsed_as(to: ColumnType) -> pa.DataType:
    """What pyarrow's reader parses a column of type ``to`` into: the type itself where its
    parsing is exact and strict (text, bools of ``TRUE_VALUES``/``FALSE_VALUES``, ISO dates and
    timestamps, which refuse a zone they were not given); text where it would change a value
    (``0123`` read as the integer 123), which :func:`convert` then checks and casts."""
    arrow = to.arrow
    strict = pa.types.is_boolean(arrow) or pa.types.is_date32(arrow) or pa.types.is_timestamp(arrow)
    return arrow if strict and to.format is None else pa.string()


def convert(values: pa.ChunkedArray | pa.Array, to: ColumnType) -> pa.ChunkedArray | pa.Array | Conflict:
    """``values`` (text, or already ``to``) as ``to``, or the first value ``to`` cannot hold exactly."""
    arrow = to.arrow
    if values.type == arrow:
        return values
    if pa.types.is_boolean(arrow):
        return _checked(values, BOOLEAN, "is not true or false") or _cast(values, to)
    if pa.types.is_integer(arrow) or pa.types.is_decimal(arrow) or pa.types.is_floating(arrow):
        return _leading_zero(values) or _cast(values, to)
    return _cast(values, to)


def _cast(values: pa.ChunkedArray | pa.Array, to: ColumnType) -> pa.ChunkedArray | pa.Array | Conflict:
    try:
        return _apply(values, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _first_failure(values, to)


def _apply(values: pa.ChunkedArray | pa.Array, to: ColumnType) -> pa.ChunkedArray | pa.Array:
    if to.format is None:
        return pc.cast(values, to.arrow)
    unit = to.arrow.unit if pa.types.is_timestamp(to.arrow) else "s"
    parsed = pc.strptime(values, format=to.format, unit=unit, error_is_null=False)
    return pc.cast(parsed, to.arrow)


def _first_failure(values: pa.ChunkedArray | pa.Array, to: ColumnType) -> Conflict:
    """The first value that fails the cast, found by halving: a few casts, not one per value."""
    low, high = 0, len(values)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            _apply(values.slice(low, middle - low), to)
            low = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
    return Conflict(low, str(values[low].as_py()), f"is not {_describe(to)}")


def _leading_zero(values: pa.ChunkedArray | pa.Array) -> Conflict | None:
    """A number written with a leading zero. Three ``starts_with`` passes find the candidates
    (about 20 GB/s, where the regular expression runs at 1 to 2) and only those are matched."""
    candidates = pc.or_(pc.starts_with(values, "0"), pc.or_(pc.starts_with(values, "-0"), pc.starts_with(values, "+0")))
    if not pc.any(candidates).as_py():
        return None
    found = _first_match(pc.filter(values, candidates), LEADING_ZERO, "has a leading zero that a number would lose")
    if found is None:
        return None
    index = pc.index(pc.and_(pc.fill_null(candidates, False), pc.equal(values, found.value)), True).as_py()
    return Conflict(index, found.value, found.reason)


def _checked(values: pa.ChunkedArray | pa.Array, pattern: str, reason: str) -> Conflict | None:
    matches = pc.match_substring_regex(values, pattern)
    if pc.all(matches).as_py() is not False:
        return None
    index = pc.index(pc.fill_null(matches, True), False).as_py()
    return Conflict(index, str(values[index].as_py()), reason)


def _first_match(values: pa.ChunkedArray | pa.Array, pattern: str, reason: str) -> Conflict | None:
    matches = pc.match_substring_regex(values, pattern)
    if not pc.any(matches).as_py():
        return None
    index = pc.index(matches, True).as_py()
    return Conflict(index, str(values[index].as_py()), reason)


def _describe(to: ColumnType) -> str:
    arrow = to.arrow
    if pa.types.is_decimal(arrow):
        return f"a decimal with at most {arrow.precision - arrow.scale} digits before the point and {arrow.scale} after"
    if to.format:
        return f"a {arrow} written as {to.format}"
    return {"int64": "an integer within int64", "double": "a number", "date32[day]": "an ISO date"}.get(
        str(arrow), f"a {arrow}"
    )


def _all(values: pa.Array | pa.ChunkedArray, pattern: str) -> bool:
    """Whether every value matches; the first ``SCREEN`` values are tried first, so that a type
    the column is plainly not costs almost nothing (most candidates fail on the first value)."""
    if len(values) > SCREEN and not pc.all(pc.match_substring_regex(values.slice(0, SCREEN), pattern)).as_py():
        return False
    return bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def _fits(values: pa.Array | pa.ChunkedArray, to: ColumnType) -> bool:
    try:
        _apply(values, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _integer(values: pa.Array | pa.ChunkedArray) -> ColumnType | None:
    if not _all(values, INTEGER):
        return None
    int64 = ColumnType(pa.int64())
    if _fits(values, int64):
        return int64
    digits = pc.max(pc.utf8_length(values)).as_py()
    return ColumnType(pa.decimal128(MAX_PRECISION, 0)) if digits <= MAX_PRECISION else None


def _decimal(values: pa.Array | pa.ChunkedArray) -> ColumnType | None:
    if not _all(values, f"{INTEGER}|{DECIMAL}"):
        return None
    length = pc.utf8_length(values)
    point = pc.find_substring(values, ".")
    after = pc.if_else(pc.less(point, 0), 0, pc.subtract(pc.subtract(length, point), 1))
    before = pc.if_else(pc.less(point, 0), length, point)
    scale, widest = pc.max(after).as_py(), pc.max(before).as_py()
    if widest + scale > MAX_PRECISION:
        return None
    precision = SHORT_PRECISION if widest + scale <= SHORT_PRECISION else MAX_PRECISION
    return ColumnType(pa.decimal128(precision, scale))


def _float(values: pa.Array | pa.ChunkedArray) -> ColumnType | None:
    """A double only where it keeps every digit: at most 17 significant digits (what any
    language prints for a double), so a long integer beside ``1e5`` stays text."""
    if not _all(values, f"{INTEGER}|{DECIMAL}|{FLOAT}"):
        return None
    digits = pc.utf8_length(pc.replace_substring_regex(values, r"[eE].*$|[^0-9]|^[^1-9]*", ""))
    if pc.max(digits).as_py() > MAX_DOUBLE_DIGITS:
        return None
    double = ColumnType(pa.float64())
    return double if _fits(values, double) else None


def _date(values: pa.Array | pa.ChunkedArray) -> ColumnType | None:
    date = ColumnType(pa.date32())
    return date if _all(values, DATE) and _fits(values, date) else None


def _timestamp(values: pa.Array | pa.ChunkedArray) -> ColumnType | None:
    """ISO date-times: the first values are matched, and the cast checks every value (Arrow's
    ISO 8601 parser is strict, and faster than the expression)."""
    if not pc.all(pc.match_substring_regex(values.slice(0, SCREEN), f"{DATETIME}{ZONE}|{DATETIME}$")).as_py():
        return None
    zoned = pc.match_substring_regex(values, ZONE)
    if pc.any(zoned).as_py() and not pc.all(zoned).as_py():
        return None
    digits = 0
    if pc.any(pc.match_substring(values, ".")).as_py():
        fractions = pc.extract_regex(values, r"T?[0-9:]+\.(?P<digits>[0-9]+)")
        digits = pc.max(pc.utf8_length(pc.struct_field(fractions, [0]))).as_py() or 0
    unit = next(name for most, name in UNITS if digits <= most)
    found = ColumnType(pa.timestamp(unit, "UTC" if pc.all(zoned).as_py() else None))
    return found if _fits(values, found) else None
